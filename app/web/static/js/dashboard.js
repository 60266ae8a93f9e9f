/* Supervisors' dashboard: the exam report as tables and ECharts charts, and the notice text. */
'use strict';

const PALETTE = ['#0b57a4', '#d9480f', '#2b8a3e', '#862e9c', '#c92a2a', '#5c7cfa', '#e67700'];

function examList(base) {
  return {
    base, exams: [], error: '', loaded: false,
    async load() {
      try { this.exams = await apiAll('/api/exams'); } catch (e) { this.error = errorText(e); }
      this.loaded = true;
    },
  };
}

// SVG: crisp on print and at any zoom, and its labels are in the page (the browser tests measure them).
function chartAt(id, height) {
  const el = document.getElementById(id);
  if (!el || !window.echarts) return null;
  if (height) el.style.height = height + 'px';
  return echarts.getInstanceByDom(el) || echarts.init(el, null, {renderer: 'svg'});
}

// Up to 8 units fit under a chart; more are listed down its side, one row each, so no name overlaps another.
const MANY_UNITS = 8;
function unitChartHeight(count) { return count > MANY_UNITS ? Math.max(320, 26 * count + 90) : 320; }
function unitAxes(names, valueAxis) {
  if (names.length > MANY_UNITS) {
    return {yAxis: {type: 'category', data: names, inverse: true, axisLabel: {interval: 0, width: 170, overflow: 'truncate'}},
            xAxis: Object.assign({}, valueAxis, {position: 'top'})};
  }
  return {xAxis: {type: 'category', data: names, axisLabel: {interval: 0, width: names.length > 4 ? 72 : 110, overflow: 'break', lineHeight: 16}},
          yAxis: valueAxis};
}

function examReport(examId) {
  return {
    examId, report: null, exam: null, individuals: [], individualScope: '', filter: '', error: '', charts: [],
    seesLiveRanking: !!(window.EXAMBANK_PAGE && window.EXAMBANK_PAGE.seesLiveRanking),
    // 进行中 / 已结束 / 已公布: what the figures are worth right now.
    get stateLabel() {
      const phase = this.exam ? (this.exam.phase || this.exam.status) : '';
      return {draft: '未开始', drawn: '未开始', open: '进行中', ended: '已结束', closed: '已结束', published: '已公布'}[phase] || '';
    },
    get stateNote() {
      return {'进行中': '考试进行中，以下为实时统计，交卷后才计入，数字仍会变化。', '已结束': '考试已结束，成绩尚未公布。',
        '已公布': '成绩已公布。', '未开始': '考试尚未开始。'}[this.stateLabel] || '';
    },
    // A unit admin sees the ranking of units once it is published to all, never while the exam runs.
    get showsRanking() { return this.seesLiveRanking || this.stateLabel === '已公布'; },
    get o() { return this.report.overall; },
    get filteredIndividuals() {
      const f = this.filter;
      return f ? this.individuals.filter(p => p.cadre_name.includes(f) || p.unit_name.includes(f)) : this.individuals;
    },
    unitName(id) { const u = this.report && this.report.units.find(x => x.unit_id === id); return u ? u.name : '单位 ' + id; },
    async load() {
      try {
        [this.exam, this.report] = await Promise.all([api('GET', '/api/exams/' + examId), api('GET', '/api/exams/' + examId + '/report')]);
      } catch (e) { this.error = e.status === 404 ? '没有找到这场考试' : errorText(e); return; }
      this.$nextTick(() => this.draw());
      try {
        const data = await apiWhole('/api/exams/' + examId + '/report/individuals');
        this.individuals = data.items || [];
        this.individualScope = data.unit_id ? '（仅本单位）' : '（全部单位）';
      } catch (_) { this.individuals = []; }
      window.addEventListener('resize', () => this.charts.forEach(c => c.resize()));
    },
    draw() {
      const r = this.report;
      const base = {color: PALETTE, textStyle: {fontFamily: getComputedStyle(document.body).fontFamily}, animation: false,
        tooltip: {trigger: 'axis'}, grid: {left: 48, right: 48, top: 60, bottom: 60, containLabel: true}};
      const units = r.units.slice();
      const names = units.map(u => u.name);
      const empty = text => [{type: 'text', left: 'center', top: 'middle', style: {text, fontSize: 16, fill: '#5a6472'}}];
      const set = (id, option, height) => {
        const c = chartAt(id, height);
        if (!c) return;
        for (const s of option.series) if (s.type === 'bar') s.barMaxWidth = 44;
        c.setOption(Object.assign({}, base, option)); this.charts.push(c);
      };
      const many = names.length > MANY_UNITS;
      if (this.showsRanking) set('chart-units', Object.assign({
        legend: {top: 0, data: ['平均分', '优秀率']},
        series: [
          {name: '平均分', type: 'bar', data: units.map(u => u.average), label: {show: true, position: many ? 'right' : 'top'}},
          {name: '优秀率', type: many ? 'bar' : 'line', data: units.map(u => u.excellence_rate), symbolSize: 8},
        ],
      }, unitAxes(names, {type: 'value', name: '分 / %', min: 0, max: 100})), unitChartHeight(names.length));
      set('chart-distribution', {
        xAxis: {type: 'category', data: r.distribution.map(b => b.label), axisLabel: {interval: 0, rotate: 30}},
        yAxis: {type: 'value', name: '人数', minInterval: 1},
        series: [{name: '人数', type: 'bar', data: r.distribution.map(b => b.count), label: {show: true, position: 'top'}}],
      });
      set('chart-ranks', {
        legend: {top: 0},
        xAxis: {type: 'category', data: r.ranks.map(x => label('rank', x.rank))},
        yAxis: {type: 'value', min: 0, max: 100},
        series: [['平均分', 'average'], ['及格率', 'pass_rate'], ['优秀率', 'excellence_rate'], ['满分率', 'full_rate']]
          .map(([name, key]) => ({name, type: 'bar', data: r.ranks.map(x => x[key])})),
      });
      const cats = (r.categories && r.categories.units) || [];
      set('chart-categories', Object.assign({
        legend: {top: 0},
        series: ['theory', 'law', 'policy'].map(k => ({name: label('category', k), type: 'bar', data: cats.map(c => c.rates[k])})),
        graphic: cats.some(c => Object.values(c.rates).some(v => v !== null)) ? [] : empty('暂无分类得分数据'),
      }, unitAxes(cats.map(c => this.unitName(c.unit_id)), {type: 'value', name: '得分率 %', min: 0, max: 100})), unitChartHeight(cats.length));
      const kinds = ['whispering', 'peeking', 'copying', 'other'];
      const disc = r.discipline || [];
      set('chart-incidents', Object.assign({
        legend: {top: 0},
        series: kinds.map(k => ({name: label('incident', k), type: 'bar', stack: 'all', data: disc.map(d => d.incidents[k])})),
        graphic: disc.length ? [] : empty('本场考试无违纪记录'),
      }, unitAxes(disc.map(d => this.unitName(d.unit_id)), {type: 'value', name: '次数', minInterval: 1})), unitChartHeight(disc.length));
    },
  };
}

function noticeView(examId) {
  return {
    examId, round: '本轮', text: '', blocks: [], error: '',
    async load() {
      try {
        const response = await fetch('/api/exams/' + examId + '/report/notice?round_label=' + encodeURIComponent(this.round), {credentials: 'same-origin'});
        if (!response.ok) throw new ApiError(response.status, await response.text());
        this.text = await response.text();
        this.blocks = this.text.split(/\n+/).map(line => line.trim()).filter(Boolean).map(line => {
          const m = line.match(/^#+\s*(.*)$/);
          return m ? {heading: m[1]} : {text: line.replace(/\*\*/g, '')};
        });
      } catch (e) { this.error = errorText(e); }
    },
    async copy() {
      try { await navigator.clipboard.writeText(this.text); toast('已复制'); } catch (_) { toast('复制失败，请手动选择文本', 'error'); }
    },
  };
}
