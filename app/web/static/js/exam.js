/* The exam room: server-driven countdown, autosave with increasing seq, an offline queue, answer card. */
'use strict';

function examRoom(config) {
  const storeKey = 'exambank:exam:' + config.examId + ':' + config.ticketNo;
  const load = () => { try { return JSON.parse(localStorage.getItem(storeKey)) || {}; } catch (_) { return {}; } };

  return {
    phase: 'intro', busy: false, error: '',
    attemptId: null, questions: [], answers: {}, pending: {}, flags: [], seq: 0,
    view: 'single', current: 0,
    deadlineMono: 0, deadlineAt: null, remaining: config.timeLimit, warning: '', warned: {},
    offline: false, saving: false, savedAt: null, retryTimer: null, flushTimer: null, tickTimer: null, pollTimer: null,
    checking: false,
    result: null, submittedText: '', lastEventAt: {}, takenOver: false,

    init() {
      const saved = load();
      Object.assign(this, {attemptId: saved.attemptId || null, seq: saved.seq || 0, pending: saved.pending || {},
        flags: saved.flags || [], view: saved.view || 'single', current: saved.current || 0});
      window.addEventListener('online', () => { this.offline = false; this.flush(); });
      window.addEventListener('offline', () => { this.offline = true; });
      window.addEventListener('beforeunload', () => { if (Object.keys(this.pending).length) this.flush(true); });
      document.addEventListener('visibilitychange', () => { if (document.hidden) this.report('visibility_hidden'); });
      window.addEventListener('blur', () => this.report('focus_lost'));
      for (const kind of ['copy', 'cut', 'paste']) document.addEventListener(kind, () => this.report(kind));
      document.addEventListener('contextmenu', () => this.report('context_menu'));
      // A reload during an attempt goes straight back into it; the server resumes the same attempt.
      if (saved.started) this.start();
    },

    persist() {
      localStorage.setItem(storeKey, JSON.stringify({attemptId: this.attemptId, seq: this.seq, pending: this.pending,
        flags: this.flags, view: this.view, current: this.current, started: this.phase === 'taking'}));
    },

    async start() {
      this.busy = true; this.error = '';
      try {
        const data = await api('POST', '/api/exams/' + config.examId + '/attempts');
        if (data.status && data.status !== 'in_progress') return this.finished(data.attempt_id, '本次考试已交卷。');
        if (this.attemptId !== data.attempt_id) { this.seq = 0; this.pending = {}; this.flags = []; this.current = 0; }
        this.attemptId = data.attempt_id;
        this.seq = Math.max(this.seq, data.last_seq || 0);
        this.questions = data.questions || [];
        this.answers = Object.assign({}, data.answers || {}, this.pending);
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
        if (Object.keys(this.pending).length) this.flush();
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
      const waiting = Object.keys(this.pending).length;
      if (this.offline) return '网络中断，答案已暂存本机' + (waiting ? '（' + waiting + ' 题待上传）' : '');
      if (this.saving || waiting) return '正在保存…';
      return this.savedAt ? '已保存 ' + clockText(this.savedAt) : '尚未作答';
    },
    get resultItems() { const r = this.result || {}; return r.questions || r.items || []; },

    keyText(item, key) { if (item.type !== 'judge') return key; const o = item.options.find(x => x.key === key); return o ? o.text : key; },
    isChosen(no, key) { return (this.answers[no] || []).includes(key); },
    isAnswered(no) { return (this.answers[no] || []).length > 0; },
    isFlagged(no) { return this.flags.includes(no); },
    toggleFlag(no) { this.flags = this.isFlagged(no) ? this.flags.filter(x => x !== no) : this.flags.concat(no); this.persist(); },

    go(index) {
      if (index < 0 || index >= this.questions.length) return;
      this.current = index; this.persist();
      this.$nextTick(() => { const el = document.getElementById('q-' + this.questions[index].no); if (el) { el.scrollIntoView({block: 'start'}); el.focus({preventScroll: true}); } });
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
      if (this.saving || this.takenOver || !this.attemptId || !Object.keys(this.pending).length) return;
      const batch = JSON.parse(JSON.stringify(this.pending));
      this.seq += 1; this.persist();
      this.saving = true;
      try {
        const reply = await api('PUT', '/api/attempts/' + this.attemptId + '/answers', {seq: this.seq, answers: batch}, {keepalive: !!keepalive});
        // Another device (or a lost reply) already used this seq: continue above the stored one and resend.
        if (reply && reply.saved === false && reply.last_seq >= this.seq) { this.seq = reply.last_seq; this.persist(); this.saving = false; return this.flush(); }
        for (const [no, keys] of Object.entries(batch)) if (JSON.stringify(this.pending[no]) === JSON.stringify(keys)) delete this.pending[no];
        if (reply) this.follow(reply.deadline_at);
        this.offline = false; this.savedAt = new Date(); this.persist();
      } catch (e) {
        if (e instanceof ApiError) {
          if (e.status === 409 && this.isTakeover(e)) { this.saving = false; this.takenOver = true; return; }
          if (e.status === 409) { this.saving = false; return this.finished(this.attemptId, '考试时间已到，系统已按已保存的答案交卷。'); }
          toast('保存失败：' + errorText(e), 'error');
        } else {
          this.offline = true;
        }
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.flush(), 3000);
      } finally { this.saving = false; }
      if (Object.keys(this.pending).length && !this.offline) this.flush();
    },

    // Starting on another device takes the attempt over; this one stops saving until the examinee takes it back.
    isTakeover(e) { return String(e.detail).includes('其他设备'); },
    takeBack() { this.takenOver = false; this.start(); },

    askSubmit() { document.getElementById('confirm-submit').showModal(); },
    confirmSubmit() { document.getElementById('confirm-submit').close(); this.submit('examinee'); },

    async submit(reason) {
      if (this.phase !== 'taking') return;
      this.phase = 'submitting';
      clearTimeout(this.flushTimer);
      for (let i = 0; i < 20 && (this.saving || Object.keys(this.pending).length); i++) {
        if (!this.saving) await this.flush(); else await new Promise(r => setTimeout(r, 150));
        if (this.offline) break;
      }
      try {
        const reply = await api('POST', '/api/attempts/' + this.attemptId + '/submit');
        this.finished(this.attemptId, reason === 'time' ? '考试时间到，系统已自动交卷。' : '您已成功交卷。', reply && reply.result);
      } catch (e) {
        if (e instanceof ApiError && e.status === 409 && this.isTakeover(e)) { this.phase = 'taking'; this.takenOver = true; return; }
        if (e instanceof ApiError && e.status === 409) return this.finished(this.attemptId, '本次考试已交卷。');
        this.phase = 'taking';
        this.offline = !(e instanceof ApiError);
        toast(this.offline ? '网络中断，交卷未成功，网络恢复后请再次交卷' : '交卷失败：' + errorText(e), 'error');
        if (reason === 'time') setTimeout(() => this.submit('time'), 3000);
      }
    },

    async finished(attemptId, text, result) {
      clearInterval(this.tickTimer); clearInterval(this.pollTimer);
      this.phase = 'submitted'; this.submittedText = text; this.attemptId = attemptId;
      this.pending = {};
      this.persist();
      if (result && result.questions) { this.result = result; return; }
      // Practice: score, keys and explanations now. Formal: results come back through the unit once published.
      let fetched = null;
      if (attemptId && config.mode === 'practice') { try { fetched = await api('GET', '/api/attempts/' + attemptId + '/result', undefined, {noRedirect: true}); } catch (_) { fetched = null; } }
      if (fetched && fetched.score !== null && fetched.score !== undefined) { this.result = fetched; return; }
      this.submittedText += config.mode === 'practice' ? '成绩稍后可查看。' : '成绩由督导组统一评定后反馈。';
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
