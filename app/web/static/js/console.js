/* Organiser console: bank, units and rosters, blueprints, the exam wizard, exam detail, monitor, proctor entry. */
'use strict';

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  return q.toString();
}

async function loadUnits() { try { return await api('GET', '/api/units'); } catch (_) { return []; } }

function bankConsole() {
  const blank = () => ({id: null, type: 'single', category: 'theory', unit_id: null, difficulty: 3, stem: '',
    options: ['A', 'B', 'C', 'D'].map(key => ({key, text: ''})), answerText: '', knowledge_point: '', tagsText: '',
    explanation: '', legal_basis: '', change_note: '', status: 'active', version: 0});
  return {
    // A bank editor keeps the shared theory and law bank; a unit admin his unit's policy bank.
    mayShared: hasRole('bank_editor'), mayPolicy: hasRole('unit_admin'),
    get ownUnits() { const mine = me(); return mine.roles.includes('admin') || !mine.unit_id ? this.units : this.units.filter(u => u.id === mine.unit_id); },
    units: [], items: [], total: 0, offset: 0, limit: 20, loaded: false,
    f: {q: '', type: '', category: '', unit_id: '', status: '', tag: '', flag: ''},
    importing: false, importResult: null, importErrors: [], importSkipped: [], importCategory: '', importUnit: '', importDifficulty: '',
    editing: false, form: blank(), versions: [], editError: '',
    async init() {
      this.units = await loadUnits();
      if (!this.mayShared && this.mayPolicy) { this.importCategory = 'policy'; const own = this.ownUnits[0]; if (own) this.importUnit = own.code; }
      this.search();
    },
    unitName(id) { const u = this.units.find(x => x.id === id); return u ? u.name : id; },
    exportUrl(format) { return '/api/questions/export?' + query(Object.assign({format}, this.f)); },
    async search() {
      try {
        const data = await api('GET', '/api/questions?' + query(Object.assign({limit: this.limit, offset: this.offset}, this.f)));
        this.items = data.items; this.total = data.total;
      } catch (e) { toast(errorText(e), 'error'); }
      this.loaded = true;
    },
    page(step) { this.offset = Math.max(0, this.offset + step * this.limit); this.search(); },
    flagText(q) { return (q.flags || []).map(f => FLAG_LABELS[f] || f).join('、'); },
    get flaggedActive() { return this.items.filter(q => q.flags && q.flags.length && q.status === 'active'); },
    async retireFlagged() {
      const ids = this.flaggedActive.map(q => q.id);
      if (!ids.length || !confirm('停用本页列出的 ' + ids.length + ' 道标记题？')) return;
      try { await api('POST', '/api/questions/retire', {question_ids: ids}); toast('已停用 ' + ids.length + ' 题'); this.search(); }
      catch (e) { toast(errorText(e), 'error'); }
    },
    get importSummary() {
      const r = this.importResult; if (!r) return '';
      return '导入完成：新增 ' + r.created + ' 题，更新 ' + r.updated + ' 题' + (r.unchanged ? '，未变 ' + r.unchanged + ' 题' : '') +
        (r.skipped && r.skipped.length ? '，跳过 ' + r.skipped.length + ' 题' : '') + (r.duplicates && r.duplicates.length ? '，疑似重复 ' + r.duplicates.length + ' 题' : '') + '。';
    },
    async importFile() {
      const file = this.$refs.file.files[0];
      if (!file) { toast('请选择文件', 'error'); return; }
      const form = new FormData();
      form.append('file', file);
      if (this.importCategory) form.append('category', this.importCategory);
      if (this.importUnit) form.append('unit_code', this.importUnit);
      if (this.importDifficulty) form.append('difficulty', this.importDifficulty);
      this.importing = true; this.importResult = null; this.importErrors = []; this.importSkipped = [];
      try {
        this.importResult = await api('POST', '/api/questions/import', form);
        this.importSkipped = this.importResult.skipped || [];
        this.search();
      } catch (e) {
        const body = e.body || {};
        this.importErrors = body.errors && body.errors.length ? body.errors : [{row: '', field: '', message: errorText(e)}];
      } finally { this.importing = false; }
    },
    async edit(q) {
      this.editError = ''; this.versions = [];
      if (!q) {
        this.form = blank();
        if (!this.mayShared) Object.assign(this.form, {category: 'policy', unit_id: this.ownUnits[0] ? this.ownUnits[0].id : null});
        this.editing = true; return;
      }
      this.form = Object.assign(blank(), JSON.parse(JSON.stringify(q)), {
        answerText: q.type === 'judge' ? (q.answer[0] === 'T' ? '对' : '错') : q.answer.join(''), tagsText: (q.tags || []).join(','), change_note: ''});
      this.editing = true;
      this.$nextTick(() => document.getElementById('editor').scrollIntoView());
      try { this.versions = (await api('GET', '/api/questions/' + q.id + '/versions')).slice().reverse(); } catch (_) { this.versions = []; }
    },
    addOption() { const key = 'ABCDEFGH'[this.form.options.length]; this.form.options.push({key, text: ''}); },
    async save() {
      const f = this.form;
      const body = {category: f.category, stem: f.stem, difficulty: f.difficulty, knowledge_point: f.knowledge_point || null,
        explanation: f.explanation || null, legal_basis: f.legal_basis || null,
        tags: f.tagsText.split(/[,，、]/).map(s => s.trim()).filter(Boolean), answer: f.answerText};
      if (f.category === 'policy') body.unit_id = f.unit_id || (this.ownUnits[0] && this.ownUnits[0].id);
      if (f.type !== 'judge') body.options = f.options.filter(o => o.text.trim());
      this.editError = '';
      try {
        if (f.id) { body.change_note = f.change_note || null; await api('PATCH', '/api/questions/' + f.id, body); }
        else { body.type = f.type; await api('POST', '/api/questions', body); }
        toast('已保存'); this.editing = false; this.search();
      } catch (e) { this.editError = errorText(e); }
    },
    async toggleRetire() {
      try { await api('POST', '/api/questions/' + this.form.id + (this.form.status === 'retired' ? '/restore' : '/retire')); this.editing = false; this.search(); }
      catch (e) { this.editError = errorText(e); }
    },
  };
}

function unitsConsole() {
  return {
    units: [], unit: null, cadres: [], nu: {code: '', name: '', headcount: 0, large: false}, nc: {name: '', rank: 'ke', employee_no: ''},
    rosterMessage: '', rosterErrors: [],
    async init() { this.units = await loadUnits(); },
    async createUnit() {
      try { await api('POST', '/api/units', this.nu); toast('已新增单位'); this.nu = {code: '', name: '', headcount: 0, large: false}; this.units = await loadUnits(); }
      catch (e) { toast(errorText(e), 'error'); }
    },
    rosterImporting: false,
    async open(u, keepMessage) {
      this.unit = u; if (!keepMessage) { this.rosterMessage = ''; this.rosterErrors = []; }
      this.cadres = await api('GET', '/api/units/' + u.id + '/cadres');
    },
    async addCadre() {
      try { await api('POST', '/api/units/' + this.unit.id + '/cadres', Object.assign({}, this.nc, {employee_no: this.nc.employee_no || null})); this.nc.name = ''; this.open(this.unit); }
      catch (e) { toast(errorText(e), 'error'); }
    },
    async importRoster() {
      const file = this.$refs.roster.files[0]; if (!file) return;
      const form = new FormData(); form.append('file', file);
      this.rosterErrors = []; this.rosterMessage = ''; this.rosterImporting = true;
      try { const r = await api('POST', '/api/units/' + this.unit.id + '/cadres/import', form); this.rosterMessage = '导入完成：新增 ' + r.created + ' 人，更新 ' + r.updated + ' 人。'; await this.open(this.unit, true); }
      catch (e) { const b = e.body || {}; this.rosterErrors = b.errors && b.errors.length ? b.errors : [{row: '', field: '', message: errorText(e)}]; }
      finally { this.rosterImporting = false; }
    },
  };
}

function blueprintsConsole() {
  return {
    presets: [], blueprints: [], previewData: null, error: '', minutes: 30,
    spec: {name: '', multiple_scoring: 'all_or_nothing', sections: [{type: 'single', count: 20, points: 2}, {type: 'multiple', count: 10, points: 3}, {type: 'judge', count: 15, points: 2}],
      category_split: {theory: 40, law: 20, policy: 40}},
    async init() {
      try { this.presets = await api('GET', '/api/blueprints/presets'); } catch (_) { this.presets = []; }
      try { this.blueprints = await apiAll('/api/blueprints'); } catch (_) { this.blueprints = []; }
      this.preview();
    },
    body() { return Object.assign({}, this.spec, {time_limit_seconds: Math.round(this.minutes * 60), name: this.spec.name || null}); },
    quota(type, category) { const q = this.previewData.quotas.find(x => x.type === type && x.category === category); return q ? q.count : 0; },
    loadSpec(p) {
      this.spec = {name: p.name + '（副本）', multiple_scoring: p.multiple_scoring, sections: p.sections.map(s => ({type: s.type, count: s.count, points: s.points})),
        category_split: Object.assign({}, p.category_split)};
      this.minutes = p.time_limit_seconds / 60; this.preview();
    },
    async preview() {
      try { this.previewData = await api('POST', '/api/blueprints/preview', this.body()); this.error = ''; }
      catch (e) { this.error = errorText(e); }
    },
    async save() {
      try { await api('POST', '/api/blueprints', this.body()); toast('已保存'); this.blueprints = await apiAll('/api/blueprints'); }
      catch (e) { this.error = errorText(e); }
    },
    async usePreset(p) {
      try { await api('POST', '/api/blueprints/presets/' + p.key); toast('已启用'); this.init(); } catch (e) { toast(errorText(e), 'error'); }
    },
  };
}

function examWizard() {
  return {
    stepNames: ['组卷规则', '参加单位', '抽取试卷', '确定考生', '准考证'], step: 0, error: '', busy: false,
    blueprints: [], units: [], examId: null, papers: null, how: 'sample', samplePreview: null, rosters: {}, cadreIds: [], issued: [],
    exam: {name: '', blueprint_id: null, mode: hasRole('organiser') ? 'formal' : 'practice', unit_ids: [], shuffle_questions: true, shuffle_options: true},
    // A unit admin runs his own unit's practice rounds only: no formal exams, no other units.
    mayFormal: hasRole('organiser'),
    opensAt: '', closesAt: '', seed: '', maxAttempts: 3, focusLimit: '',
    sample: {percent: 20, minimum: 30, large_minimum: 50, seed: ''},
    async init() {
      this.units = await loadUnits();
      if (!this.mayFormal && me().unit_id) { this.units = this.units.filter(u => u.id === me().unit_id); this.exam.unit_ids = this.units.map(u => u.id); }
      try { this.blueprints = await apiAll('/api/blueprints'); } catch (_) { this.blueprints = []; }
      if (this.blueprints.length) this.exam.blueprint_id = this.blueprints[0].id;
    },
    unitName(id) { const u = this.units.find(x => x.id === id); return u ? u.name : '单位 ' + id; },
    get chosenUnits() { return this.units.filter(u => this.exam.unit_ids.includes(u.id)); },
    async run(work) {
      this.busy = true; this.error = '';
      try { await work(); } catch (e) { this.error = errorText(e); } finally { this.busy = false; }
    },
    create() {
      return this.run(async () => {
        const body = Object.assign({}, this.exam);
        if (this.opensAt) body.opens_at = new Date(this.opensAt).toISOString();
        if (this.closesAt) body.closes_at = new Date(this.closesAt).toISOString();
        if (this.seed !== '') body.seed = Number(this.seed);
        if (this.focusLimit !== '') body.focus_loss_limit = Number(this.focusLimit);
        if (this.exam.mode === 'practice') body.max_attempts = this.maxAttempts;
        const created = await api('POST', '/api/exams', body);
        this.examId = created.id; this.step = 2;
      });
    },
    draw() {
      return this.run(async () => {
        await api('POST', '/api/exams/' + this.examId + '/papers');
        this.papers = await api('GET', '/api/exams/' + this.examId + '/papers');
      });
    },
    redraw() {
      return this.run(async () => {
        await api('DELETE', '/api/exams/' + this.examId + '/papers');
        this.papers = null;
        await api('POST', '/api/exams/' + this.examId + '/papers');
        this.papers = await api('GET', '/api/exams/' + this.examId + '/papers');
      });
    },
    sampleSpec() {
      const spec = {ratio: this.sample.percent / 100, minimum: this.sample.minimum, large_minimum: this.sample.large_minimum};
      if (this.sample.seed !== '') spec.seed = Number(this.sample.seed);
      return spec;
    },
    previewSample() { return this.run(async () => { this.samplePreview = await api('POST', '/api/exams/' + this.examId + '/participants/preview', this.sampleSpec()); }); },
    async loadRosters() {
      for (const u of this.chosenUnits) if (!this.rosters[u.id]) this.rosters[u.id] = await api('GET', '/api/units/' + u.id + '/cadres');
    },
    addParticipants(how) {
      return this.run(async () => {
        const body = how === 'sample' ? {sample: this.sampleSpec()} : {cadre_ids: this.cadreIds};
        this.issued = await api('POST', '/api/exams/' + this.examId + '/participants', body);
        rememberPins(this.examId, this.issued);
        this.step = 4;
      });
    },
  };
}

function rememberPins(examId, issued) {
  const key = 'exambank:pins:' + examId;
  const pins = JSON.parse(sessionStorage.getItem(key) || '{}');
  for (const t of issued) if (t.pin) pins[t.ticket_no] = t.pin;
  sessionStorage.setItem(key, JSON.stringify(pins));
}

function ticketSheet(examId) {
  return {
    examId, exam: null, tickets: [], pins: {}, error: '', places: {}, venue: '', firstSeat: 1, arranging: false, placeMessage: '',
    mayArrange: hasRole('organiser'),
    // The window, or its start and length: what the examinee needs to be there on time.
    get timeText() {
      const e = this.exam; if (!e) return '';
      const minutes = e.time_limit_seconds ? Math.round(e.time_limit_seconds / 60) + ' 分钟' : '';
      const start = e.opens_at ? dateTimeText(e.opens_at).slice(0, 16) : '开考后即可登录';
      const end = e.closes_at ? ' 至 ' + dateTimeText(e.closes_at).slice(0, 16) : '';
      return start + end + (minutes ? '（答题 ' + minutes + '）' : '');
    },
    async init() {
      this.pins = JSON.parse(sessionStorage.getItem('exambank:pins:' + examId) || '{}');
      try {
        this.exam = await api('GET', '/api/exams/' + examId);
        this.tickets = await api('GET', '/api/exams/' + examId + '/tickets');
      } catch (e) { this.error = errorText(e); }
      await this.loadPlaces();
    },
    async loadPlaces() {
      try { this.places = Object.fromEntries((await apiAll('/api/exams/' + examId + '/tickets/places')).map(p => [p.ticket_no, p])); }
      catch (_) { this.places = {}; }
    },
    async arrange() {
      this.arranging = true; this.error = ''; this.placeMessage = '';
      const body = this.tickets.map((t, i) => ({ticket_no: t.ticket_no, venue: this.venue, seat: String(this.firstSeat + i)}));
      try {
        const saved = await api('PUT', '/api/exams/' + examId + '/tickets/places', body);
        this.places = Object.fromEntries(saved.map(p => [p.ticket_no, p]));
        this.placeMessage = '已为 ' + body.length + ' 张准考证编排考场和座位。';
      } catch (e) { this.error = errorText(e); } finally { this.arranging = false; }
    },
    async reissueAll() {
      if (!confirm('重新生成全部密码后，原密码全部作废。确定继续吗？')) return;
      try { const issued = await api('POST', '/api/exams/' + examId + '/tickets/reissue', {all: true}); rememberPins(examId, issued); this.pins = JSON.parse(sessionStorage.getItem('exambank:pins:' + examId)); }
      catch (e) { this.error = errorText(e); }
    },
  };
}

function examDetail(examId) {
  return {
    examId, exam: null, papers: null, participants: [], units: [], error: '', questionId: '', regradeResult: null,
    async init() {
      this.units = await loadUnits();
      await this.reload();
    },
    async reload() {
      try { this.exam = await api('GET', '/api/exams/' + examId); } catch (e) { this.error = errorText(e); return; }
      try { this.papers = await api('GET', '/api/exams/' + examId + '/papers'); } catch (_) { this.papers = null; }
      try { this.participants = await apiAll('/api/exams/' + examId + '/participants'); } catch (_) { this.participants = []; }
    },
    unitName(id) { const u = this.units.find(x => x.id === id); return u ? u.name : '单位 ' + id; },
    async act(path, confirmText, body) {
      if (confirmText && !confirm(confirmText)) return;
      try { const r = await api('POST', '/api/exams/' + examId + path, body); toast('操作成功'); await this.reload(); return r; }
      catch (e) { this.error = errorText(e); return null; }
    },
    async regrade() {
      if (!this.questionId) return;
      this.regradeResult = await this.act('/regrade', '按题目的最新版本重新评分，成绩可能变化并记入审计日志。确定吗？', {question_id: Number(this.questionId)});
    },
  };
}

function monitorView(examId) {
  return {
    examId, data: null, error: '', filter: '', state: '', timer: null, updatedAt: null,
    async init() { await this.load(); this.timer = setInterval(() => this.load(), 5000); },
    async load() {
      try { this.data = await api('GET', '/api/exams/' + examId + '/monitor'); this.error = ''; this.updatedAt = new Date(); }
      catch (e) { this.error = errorText(e); }
    },
    get rows() {
      if (!this.data) return [];
      return this.data.examinees.filter(x => (!this.state || x.state === this.state || (this.state === 'locked' && x.locked)) && (!this.filter || x.name.includes(this.filter) || x.ticket_no.includes(this.filter)));
    },
    stateLabel(s) { return {not_started: '未开始', in_progress: '作答中', submitted: '已交卷', absent: '缺考'}[s] || s; },
    remaining(s) { return s === null || s === undefined ? '' : pad2(Math.floor(s / 60)) + ':' + pad2(s % 60); },
    // Extra time: one examinee's total (an accommodation), or minutes added for everyone listed (a room's fault).
    async grant(x) {
      const minutes = prompt('为 ' + x.name + ' 设置延长时间（分钟，合计）', String(Math.round((x.extra_time_seconds || 0) / 60)));
      if (minutes === null) return;
      try { await api('PATCH', '/api/exams/' + examId + '/participants/' + x.cadre_id, {extra_time_seconds: Math.round(Number(minutes) * 60)}); toast('已延时', 'ok'); await this.load(); }
      catch (e) { this.error = errorText(e); }
    },
    // A ticket locked by wrong PINs: the proctor has seen the examinee's identity, one click lets him in again.
    async unlock(x) {
      if (!confirm('确认已核对 ' + x.name + '（' + x.ticket_no + '）的身份，解除准考证锁定？')) return;
      try { await api('POST', '/api/exams/' + examId + '/tickets/' + encodeURIComponent(x.ticket_no) + '/unlock'); toast('已解锁', 'ok'); await this.load(); }
      catch (e) { this.error = errorText(e); }
    },
    async extendShown() {
      const targets = this.rows.filter(x => x.state !== 'submitted');
      const minutes = prompt('为所列 ' + targets.length + ' 名考生增加时间（分钟）', '5');
      if (minutes === null) return;
      const reason = prompt('原因（如：第三考场停电）', '考场故障');
      if (!reason) return;
      try { await api('POST', '/api/exams/' + examId + '/extra-time', {cadre_ids: targets.map(x => x.cadre_id), add_seconds: Math.round(Number(minutes) * 60), reason}); toast('已延时', 'ok'); await this.load(); }
      catch (e) { this.error = errorText(e); }
    },
  };
}

function proctorDesk(initialExamId) {
  return {
    exams: [], examId: initialExamId || '', participants: [], incidents: [], absences: [], filter: '', chosen: null, error: '',
    kind: 'whispering', note: '', reason: '因病',
    async init() {
      try { this.exams = await apiAll('/api/exams'); } catch (e) { this.error = errorText(e); }
      if (this.examId) this.load();
    },
    async load() {
      if (!this.examId) return;
      history.replaceState(null, '', '/console/proctor?exam_id=' + this.examId);
      try {
        this.participants = await apiAll('/api/exams/' + this.examId + '/participants');
        this.incidents = await apiAll('/api/exams/' + this.examId + '/incidents');
        this.absences = await apiAll('/api/exams/' + this.examId + '/absences');
      } catch (e) { this.error = errorText(e); }
    },
    get rows() { const f = this.filter; return f ? this.participants.filter(p => p.name.includes(f) || p.ticket_no.includes(f)) : this.participants; },
    nameOf(cadreId) { const p = this.participants.find(x => x.cadre_id === cadreId); return p ? p.name : cadreId; },
    async recordIncident() {
      try { await api('POST', '/api/exams/' + this.examId + '/incidents', {cadre_id: this.chosen.cadre_id, kind: this.kind, note: this.note || null}); toast('已登记违纪：' + this.chosen.name); this.note = ''; this.chosen = null; this.load(); }
      catch (e) { this.error = errorText(e); }
    },
    async recordAbsence() {
      try { await api('POST', '/api/exams/' + this.examId + '/absences', {cadre_id: this.chosen.cadre_id, reason: this.reason}); toast('已登记缺考：' + this.chosen.name); this.chosen = null; this.load(); }
      catch (e) { this.error = errorText(e); }
    },
  };
}
