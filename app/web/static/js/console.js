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
    units: [], items: [], total: 0, offset: 0, limit: 20, loaded: false,
    f: {q: '', type: '', category: '', unit_id: '', status: '', tag: ''},
    importing: false, importResult: null, importErrors: [], importSkipped: [], importCategory: '', importUnit: '', importDifficulty: '',
    editing: false, form: blank(), versions: [], editError: '',
    async init() { this.units = await loadUnits(); this.search(); },
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
      if (!q) { this.form = blank(); this.editing = true; return; }
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
      if (f.category === 'policy') body.unit_id = f.unit_id || (this.units[0] && this.units[0].id);
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
