/* The exam room: server-driven countdown, autosave with increasing seq, an offline queue, answer card.
   Marks (标记) travel with the saves; what could not reach the server by the deadline is said, kept and resent
   while the server's grace lasts. */
'use strict';

function examRoom(config) {
  const storeKey = 'exambank:exam:' + config.examId + ':' + config.ticketNo;
  const load = () => { try { return JSON.parse(localStorage.getItem(storeKey)) || {}; } catch (_) { return {}; } };

  return {
    phase: 'intro', busy: false, error: '',
    attemptId: null, questions: [], answers: {}, pending: {}, flags: [], flagsDirty: false, seq: 0,
    fontStep: 0, unsent: [], graceTimer: null, graceLeft: 0,
    view: 'single', current: 0,
    deadlineMono: 0, deadlineAt: null, remaining: config.timeLimit, warning: '', warned: {},
    offline: false, saving: false, savedAt: null, retryTimer: null, flushTimer: null, tickTimer: null, pollTimer: null,
    checking: false,
    result: null, submittedText: '', lastEventAt: {}, takenOver: false,

    init() {
      const saved = load();
      Object.assign(this, {attemptId: saved.attemptId || null, seq: saved.seq || 0, pending: saved.pending || {},
        flags: saved.flags || [], flagsDirty: !!saved.flagsDirty, view: saved.view || 'single',
        current: saved.current || 0, fontStep: saved.fontStep || 0, unsent: saved.unsent || []});
      this.applyFont();
      window.addEventListener('online', () => { this.offline = false; if (this.phase === 'overtime') this.submit('time'); else this.flush(); });
      window.addEventListener('offline', () => { this.offline = true; });
      window.addEventListener('beforeunload', () => { if (Object.keys(this.pending).length) this.flush(true); });
      document.addEventListener('visibilitychange', () => { if (document.hidden) this.report('visibility_hidden'); });
      window.addEventListener('blur', () => this.report('focus_lost'));
      for (const kind of ['copy', 'cut', 'paste']) document.addEventListener(kind, () => this.report(kind));
      document.addEventListener('contextmenu', () => this.report('context_menu'));
      // Leaving mid-exam loses nothing on the server, but the clock runs on: say so before logging out.
      window.confirmLogout = () => this.phase !== 'taking' && this.phase !== 'overtime'
        || window.confirm('考试正在进行，退出登录后计时不会暂停。' + (this.waitingCount ? '还有 ' + this.waitingCount + ' 题答案尚未送达服务器。' : '') + '确定退出吗？');
      // After submitting, a reload shows the submitted state (and never starts a new practice round by itself).
      if (saved.submitted && saved.attemptId) { this.attemptId = saved.attemptId; return this.finished(saved.attemptId, saved.submittedText || '本次考试已交卷。'); }
      if (config.attemptStatus === 'submitted' && config.mode === 'formal') return this.finished(null, '本次考试已交卷。');
      // A reload during an attempt goes straight back into it; the server resumes the same attempt.
      if (saved.started) this.start();
    },

    get waitingCount() { return Object.keys(this.pending).length; },
    // The intro's button: resuming (on this device or another one) is not starting.
    get startLabel() { return this.attemptId || config.attemptStatus === 'in_progress' ? '继续答题' : '开始答题'; },

    fontSizes: [100, 115, 130, 150],
    applyFont() { document.documentElement.style.setProperty('--exam-font', this.fontSizes[this.fontStep] + '%'); },
    setFont(delta) {
      this.fontStep = Math.min(this.fontSizes.length - 1, Math.max(0, this.fontStep + delta));
      this.applyFont(); this.persist();
      this.$nextTick(() => this.reveal(this.current));
    },

    persist() {
      localStorage.setItem(storeKey, JSON.stringify({attemptId: this.attemptId, seq: this.seq, pending: this.pending,
        flags: this.flags, flagsDirty: this.flagsDirty, view: this.view, current: this.current, fontStep: this.fontStep,
        started: this.phase === 'taking' || this.phase === 'overtime', submitted: this.phase === 'submitted',
        submittedText: this.submittedText, unsent: this.unsent}));
    },

    async start() {
      this.busy = true; this.error = '';
      try {
        const data = await api('POST', '/api/exams/' + config.examId + '/attempts');
        if (data.status && data.status !== 'in_progress') return this.finished(data.attempt_id, '本次考试已交卷。');
        if (this.attemptId !== data.attempt_id) { this.seq = 0; this.pending = {}; this.flags = []; this.flagsDirty = false; this.current = 0; }
        this.attemptId = data.attempt_id;
        this.seq = Math.max(this.seq, data.last_seq || 0);
        this.questions = data.questions || [];
        this.answers = Object.assign({}, data.answers || {}, this.pending);
        // The server's marks, unless this device changed them and has not sent the change yet.
        if (!this.flagsDirty) this.flags = (data.flags || []).slice();
        // The countdown runs on the monotonic clock from the server's remaining time: the wall clock may be wrong.
        const remaining = data.remaining_seconds !== undefined ? data.remaining_seconds
          : (Date.parse(data.deadline_at) - Date.parse(data.server_time || new Date().toISOString())) / 1000;
        this.deadlineMono = performance.now() + remaining * 1000;
        this.deadlineAt = data.deadline_at || null;
        this.current = Math.min(this.current, Math.max(0, this.questions.length - 1));
        this.phase = 'taking';
        this.persist();
        this.tick();
        clearInterval(this.tickTimer);
        this.tickTimer = setInterval(() => this.tick(), 500);
        // Extra time granted while writing reaches the countdown with the next save or this poll.
        clearInterval(this.pollTimer);
        this.pollTimer = setInterval(() => this.poll(), 30000);
        if (this.waitingCount || this.flagsDirty) this.flush();
      } catch (e) {
        if (e.status === 409 && String(e.detail).includes('交卷')) return this.finished(this.attemptId, '本次考试已交卷。');
        this.error = e instanceof ApiError ? errorText(e) : '无法连接服务器，请检查网络后重试';
      } finally { this.busy = false; }
    },

    // Extra time moves the server's deadline: shift the countdown by as much (the clocks may disagree, the
    // difference between two deadlines does not).
    follow(deadlineAt) {
      if (!deadlineAt || !this.deadlineAt) return;
      const shift = Date.parse(deadlineAt) - Date.parse(this.deadlineAt);
      if (!shift) return;
      this.deadlineAt = deadlineAt;
      this.deadlineMono += shift;
      if ((this.deadlineMono - performance.now()) / 1000 > 300) this.warned = {};
    },

    async poll() {
      if (this.phase !== 'taking' || !this.attemptId) return null;
      try {
        const state = await api('GET', '/api/attempts/' + this.attemptId, undefined, {noRedirect: true});
        if (state && state.status === 'in_progress') this.follow(state.deadline_at);
        return state;
      } catch (_) { return null; }
    },

    async tick() {
      this.remaining = Math.max(0, Math.round((this.deadlineMono - performance.now()) / 1000));
      // At zero, ask the server first: the deadline may have moved (extra time) since the last save.
      if (this.remaining === 0 && this.phase === 'taking' && !this.checking) {
        this.checking = true;
        const state = await this.poll();
        this.checking = false;
        this.remaining = Math.max(0, Math.round((this.deadlineMono - performance.now()) / 1000));
        if (state && state.status === 'in_progress' && this.remaining > 0) return;
      }
      if (this.remaining === 0) this.warning = '';
      for (const [limit, text] of [[300, '距离考试结束还有 5 分钟，请抓紧时间。'], [60, '距离考试结束还有 1 分钟，时间到将自动交卷。']]) {
        if (this.remaining <= limit && this.remaining > 0 && !this.warned[limit]) { this.warned[limit] = true; this.warning = text; toast(text, 'error'); }
      }
      if (this.remaining === 0 && this.phase === 'taking' && !this.checking) this.submit('time');
    },

    get remainingText() { const s = this.remaining; return pad2(Math.floor(s / 60)) + ':' + pad2(s % 60); },
    get answeredCount() { return this.questions.filter(q => this.isAnswered(q.no)).length; },
    get unansweredText() {
      const left = this.questions.length - this.answeredCount;
      return left ? '还有 ' + left + ' 题未作答' + (this.flags.length ? '，' + this.flags.length + ' 题已标记' : '') + '。确定交卷吗？' : '全部题目已作答。确定交卷吗？';
    },
    get saveText() {
      const waiting = this.waitingCount;
      if (this.takenOver) return '本设备已停止保存' + (waiting ? '（' + waiting + ' 题暂存本机）' : '');
      if (this.offline) return '网络中断，答案已暂存本机' + (waiting ? '（' + waiting + ' 题待上传）' : '');
      if (this.saving || waiting) return '正在保存…';
      if (this.savedAt) return '已保存 ' + clockText(this.savedAt);
      return this.answeredCount ? '已恢复作答记录' : '尚未作答';  // resumed: the answers shown are the server's
    },
    get resultItems() { const r = this.result || {}; return r.questions || r.items || []; },

    keyText(item, key) { if (item.type !== 'judge') return key; const o = item.options.find(x => x.key === key); return o ? o.text : key; },
    isChosen(no, key) { return (this.answers[no] || []).includes(key); },
    isAnswered(no) { return (this.answers[no] || []).length > 0; },
    isFlagged(no) { return this.flags.includes(no); },
    toggleFlag(no) {
      this.flags = this.isFlagged(no) ? this.flags.filter(x => x !== no) : this.flags.concat(no).sort((a, b) => a - b);
      this.flagsDirty = true; this.persist();
      clearTimeout(this.flushTimer);
      this.flushTimer = setTimeout(() => this.flush(), 250);
    },
    get unsentText() { return this.unsent.map(no => '第 ' + this.displayNo(no) + ' 题').join('、'); },
    displayNo(no) { const i = this.questions.findIndex(q => String(q.no) === String(no)); return i >= 0 ? i + 1 : no; },

    go(index) {
      if (index < 0 || index >= this.questions.length) return;
      this.current = index; this.persist();
      this.$nextTick(() => this.reveal(index));
    },

    // Scroll the question's top just below the sticky header (its height changes with the width, the zoom
    // and the font size, so it is measured each time) and move the focus there for screen readers.
    reveal(index) {
      const q = this.questions[index];
      const el = q && document.getElementById('q-' + q.no);
      if (!el) return;
      const head = document.querySelector('.exam-head');
      const covered = head ? head.getBoundingClientRect().bottom : 0;
      window.scrollTo({top: Math.max(0, window.scrollY + el.getBoundingClientRect().top - covered - 8), behavior: 'instant'});
      el.focus({preventScroll: true});
    },

    choose(q, key, checked) {
      let keys = q.type === 'multiple' ? (this.answers[q.no] || []).filter(k => k !== key) : [];
      if (checked) keys = keys.concat(key).sort();
      this.answers[q.no] = keys;
      this.pending[q.no] = keys;
      this.persist();
      clearTimeout(this.flushTimer);
      this.flushTimer = setTimeout(() => this.flush(), 250);
    },

    async flush(keepalive) {
      if (this.saving || this.takenOver || !this.attemptId || (!this.waitingCount && !this.flagsDirty)) return;
      const batch = JSON.parse(JSON.stringify(this.pending));
      const body = {seq: this.seq + 1, answers: batch};
      const flagsSent = this.flagsDirty ? this.flags.slice() : null;
      if (flagsSent) body.flags = flagsSent;
      this.seq += 1; this.persist();
      this.saving = true;
      try {
        const reply = await api('PUT', '/api/attempts/' + this.attemptId + '/answers', body, {keepalive: !!keepalive});
        // Another device (or a lost reply) already used this seq: continue above the stored one and resend.
        if (reply && reply.saved === false && reply.last_seq >= this.seq) { this.seq = reply.last_seq; this.persist(); this.saving = false; return this.flush(); }
        for (const [no, keys] of Object.entries(batch)) if (JSON.stringify(this.pending[no]) === JSON.stringify(keys)) delete this.pending[no];
        if (flagsSent && JSON.stringify(flagsSent) === JSON.stringify(this.flags)) this.flagsDirty = false;
        if (reply) this.follow(reply.deadline_at);
        this.offline = false; this.savedAt = new Date(); this.persist();
        if (this.phase === 'overtime' && !this.waitingCount) { this.saving = false; return this.submit('time'); }
      } catch (e) {
        if (e instanceof ApiError) {
          if (e.status === 409 && this.isTakeover(e)) { this.saving = false; this.takenOver = true; return; }
          if (e.status === 409) { this.saving = false; return this.finished(this.attemptId, '考试时间已到，系统已按服务器上保存的答案交卷。'); }
          // 503: the server is busy or its database restarting (Retry-After: 2): the answers wait here and are resent.
          toast(e.status === 503 ? '服务器繁忙，答案已暂存本机，稍后自动重新保存' : '保存失败：' + errorText(e), 'error');
        } else {
          this.offline = true;
        }
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.flush(), e instanceof ApiError && e.status === 503 ? 2000 : 3000);
      } finally { this.saving = false; }
      if ((this.waitingCount || this.flagsDirty) && !this.offline && this.phase !== 'submitted') this.flush();
    },

    // Starting on another device takes the attempt over; this one stops saving until the examinee takes it back.
    isTakeover(e) { return String(e.detail).includes('其他设备'); },
    takeBack() { this.takenOver = false; this.start(); },

    askSubmit() { document.getElementById('confirm-submit').showModal(); },
    confirmSubmit() { document.getElementById('confirm-submit').close(); this.submit('examinee'); },

    async submit(reason) {
      if (this.phase !== 'taking' && this.phase !== 'overtime') return;
      const overtime = this.phase === 'overtime';
      this.phase = 'submitting';
      clearTimeout(this.flushTimer);
      for (let i = 0; i < 20 && (this.saving || this.waitingCount); i++) {
        if (!this.saving) await this.flush(); else await new Promise(r => setTimeout(r, 150));
        if (this.offline || this.phase === 'submitted') break;
      }
      if (this.phase === 'submitted') return;
      // Time is up and answers are still only here: keep them, say so, and resend while the grace lasts.
      if (reason === 'time' && this.waitingCount && this.offline) return this.waitOvertime(overtime);
      try {
        const reply = await api('POST', '/api/attempts/' + this.attemptId + '/submit');
        this.finished(this.attemptId, reason === 'time' ? '考试时间到，系统已自动交卷。' : '您已成功交卷。', reply && reply.result);
      } catch (e) {
        if (e instanceof ApiError && e.status === 409 && this.isTakeover(e)) { this.phase = 'taking'; this.takenOver = true; return; }
        if (e instanceof ApiError && e.status === 409) return this.finished(this.attemptId, '本次考试已交卷。');
        this.offline = !(e instanceof ApiError);
        if (reason === 'time') {
          // Every answer reached the server: it submits them itself at the deadline; retry to show the result.
          this.phase = 'overtime';
          if (!this.graceTimer) this.startGraceCountdown();
          setTimeout(() => this.submit('time'), e instanceof ApiError && e.status === 503 ? 2000 : 3000);
          return;
        }
        this.phase = 'taking';
        toast(this.offline ? '网络中断，交卷未成功，网络恢复后请再次交卷' : '交卷失败：' + errorText(e), 'error');
        // 503: the server is busy or its database restarting (Retry-After: 2): submit again shortly.
        if (e instanceof ApiError && e.status === 503) setTimeout(() => this.submit(reason), 2000);
      }
    },

    waitOvertime(already) {
      this.phase = 'overtime'; this.persist();
      if (!already) this.startGraceCountdown();
    },
    startGraceCountdown() {
      const until = performance.now() + (config.graceSeconds || 0) * 1000;
      clearInterval(this.graceTimer);
      const step = () => {
        this.graceLeft = Math.max(0, Math.ceil((until - performance.now()) / 1000));
        if (this.graceLeft === 0) clearInterval(this.graceTimer);
      };
      step();
      this.graceTimer = setInterval(step, 500);
    },

    async finished(attemptId, text, result) {
      clearInterval(this.tickTimer); clearInterval(this.graceTimer); clearInterval(this.pollTimer);
      this.phase = 'submitted'; this.submittedText = text; this.attemptId = attemptId || this.attemptId;
      // What never reached the server is not dropped silently: it stays here and the final message names it.
      const unsent = Object.keys(this.pending).filter(no => (this.pending[no] || []).length);
      if (unsent.length) {
        this.unsent = unsent.map(Number).sort((a, b) => a - b);
        localStorage.setItem(storeKey + ':unsent', JSON.stringify({answers: this.pending, at: new Date().toISOString()}));
        this.submittedText = text + this.unsentText + '的答案未能在考试结束前送达服务器，未计入成绩；这些答案仍保存在本机，请告知监考人员。';
      }
      this.pending = {}; this.flagsDirty = false;
      this.persist();
      if (result && result.questions) { this.result = result; return; }
      // Practice: score, keys and explanations now. Formal: results come back through the unit once published.
      let fetched = null;
      if (attemptId && config.mode === 'practice') { try { fetched = await api('GET', '/api/attempts/' + attemptId + '/result', undefined, {noRedirect: true}); } catch (_) { fetched = null; } }
      if (fetched && fetched.score !== null && fetched.score !== undefined) { this.result = fetched; return; }
      if (!this.submittedText.endsWith('反馈。') && !this.submittedText.endsWith('查看。'))
        this.submittedText += config.mode === 'practice' ? '成绩稍后可查看。' : '成绩由督导组统一评定后反馈。';
    },

    // Practice: another round once this one is submitted, only when the examinee asks for it.
    again() {
      Object.assign(this, {attemptId: null, seq: 0, pending: {}, flags: [], flagsDirty: false, current: 0,
        unsent: [], result: null, submittedText: '', warned: {}, warning: '', phase: 'intro'});
      localStorage.removeItem(storeKey + ':unsent');
      this.persist();
      this.start();
    },

    report(kind) {
      if (this.phase !== 'taking' || !this.attemptId) return;
      const now = performance.now();
      // A window switch fires both blur and visibilitychange: report it once.
      const group = kind === 'visibility_hidden' || kind === 'focus_lost' ? 'focus' : kind;
      if (this.lastEventAt[group] && now - this.lastEventAt[group] < 1500) return;
      this.lastEventAt[group] = now;
      api('POST', '/api/attempts/' + this.attemptId + '/events', {kind, detail: {at: new Date().toISOString()}}, {noRedirect: true})
        .then(reply => { if (reply && reply.submitted) this.finished(this.attemptId, '离开考试页面次数超过规定，系统已自动交卷。'); })
        .catch(() => {});
    },
  };
}
