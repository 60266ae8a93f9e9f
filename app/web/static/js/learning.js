/* Learning pages: the examinee's history, 错题本 and drills; the unit handbook with its coverage. */
'use strict';

function learningView() {
  return {
    history: {exams: []}, book: {items: [], total: 0, mastered: 0}, current: null, answers: {}, result: null, error: '',
    async init() {
      try {
        this.history = await api('GET', '/api/me/history');
        this.book = await apiWhole('/api/me/mistakes');
      } catch (e) { this.error = errorText(e); }
    },
    last(e) { const done = e.attempts.filter(a => a.status === 'submitted'); return done[done.length - 1]; },
    async drill() {
      try { this.current = await api('POST', '/api/me/mistakes/drills', {count: 10}); this.answers = {}; this.result = null; }
      catch (e) { this.error = errorText(e); }
    },
    choose(q, key, checked) {
      let keys = q.type === 'multiple' ? (this.answers[q.no] || []).filter(k => k !== key) : [];
      if (checked) keys = keys.concat(key).sort();
      this.answers[q.no] = keys;
    },
    async submit() {
      try {
        this.result = await api('POST', '/api/me/mistakes/drills/' + this.current.drill_id + '/submit', {answers: this.answers});
        this.book = await apiWhole('/api/me/mistakes');
      } catch (e) { this.error = errorText(e); }
    },
    verdict(no) {
      const item = this.result && this.result.items.find(i => i.no === no);
      if (!item) return '';
      return (item.is_correct ? '回答正确。' : '回答错误，正确答案 ' + item.answer.join('') + '。') + (item.explanation ? '解析：' + item.explanation : '');
    },
  };
}

function handbookView(initialUnitId) {
  const blank = () => ({title: '', body: '', legal_basis: '', duty_points: [], questionIdsText: ''});
  return {
    units: [], unitId: initialUnitId || '', handbook: null, coverage: null, duties: [], missed: null, form: blank(), error: '',
    async init() {
      try { this.units = await api('GET', '/api/units'); } catch (_) { this.units = []; }
      if (!this.unitId && this.units.length) this.unitId = this.units[0].id;
      await this.load();
    },
    async load() {
      if (!this.unitId) return;
      try {
        this.handbook = await api('GET', '/api/units/' + this.unitId + '/handbook');
        this.coverage = await api('GET', '/api/units/' + this.unitId + '/handbook/coverage');
        this.duties = (await api('GET', '/api/units/' + this.unitId + '/duties')).knowledge_points;
        this.missed = await api('GET', '/api/units/' + this.unitId + '/missed-points?limit=10');
        this.error = '';
      } catch (e) { this.error = errorText(e); }
    },
    async add() {
      const f = this.form;
      const body = {title: f.title, body: f.body, legal_basis: f.legal_basis || null, duty_points: f.duty_points,
        question_ids: f.questionIdsText.split(/[,，\s]+/).filter(Boolean).map(Number)};
      try { await api('POST', '/api/units/' + this.unitId + '/handbook/sections', body); this.form = blank(); toast('章节已保存', 'ok'); await this.load(); }
      catch (e) { this.error = errorText(e); }
    },
    async remove(section) {
      if (!confirm('删除章节“' + section.title + '”？')) return;
      try { await api('DELETE', '/api/units/' + this.unitId + '/handbook/sections/' + section.id); await this.load(); }
      catch (e) { this.error = errorText(e); }
    },
  };
}
