/* Shared helpers for every page: JSON calls with the session cookie, error text, a toast. */
'use strict';

class ApiError extends Error {
  constructor(status, detail, body) { super(typeof detail === 'string' ? detail : JSON.stringify(detail)); this.status = status; this.detail = detail; this.body = body; }
}

async function api(method, url, body, options) {
  const init = {method, credentials: 'same-origin', headers: {'Accept': 'application/json'}};
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
  if (options && options.keepalive) init.keepalive = true;
  const response = await fetch(url, init);
  const text = await response.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch (_) { data = text; } }
  if (response.status === 401 && !(options && options.noRedirect) && !url.startsWith('/api/auth/login')) {
    location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
  }
  if (!response.ok) throw new ApiError(response.status, data && data.detail !== undefined ? data.detail : data, data);
  return data;
}

// A list route answering {items, total, ...} read whole: a page at a time at the server's largest page (the
// <meta> the base template renders from app/core/paging.py); the reply's other fields come from the last page.
async function apiWhole(url) {
  const meta = document.querySelector('meta[name="exambank-page-limit"]');
  const limit = meta ? 'limit=' + meta.content + '&' : '';
  const items = [];
  for (;;) {
    const page = await api('GET', url + (url.includes('?') ? '&' : '?') + limit + 'offset=' + items.length);
    items.push(...page.items);
    if (!page.items.length || items.length >= page.total) return Object.assign(page, {items});
  }
}
async function apiAll(url) { return (await apiWhole(url)).items; }

// Some server messages carry their English original after the Chinese, "中文 (english)": show the Chinese.
function chineseOnly(text) {
  const s = String(text == null ? '' : text);
  return /[\u4e00-\u9fff]/.test(s) ? s.replace(/\s*\((?=[^()]*[A-Za-z]{3})[\x20-\x7e]*\)\s*$/, '') : s;
}
const FIELD_LABELS = {
  username: '用户名', password: '密码', name: '名称', code: '代码', headcount: '总人数', rank: '职级', employee_no: '工号',
  unit_id: '单位', unit_ids: '参加单位', cadre_ids: '干部', stem: '题干', options: '选项', answer: '答案', type: '题型',
  category: '类别', difficulty: '难度', blueprint_id: '组卷规则', opens_at: '开始时间', closes_at: '结束时间', roles: '角色',
  time_limit_seconds: '考试时长', sections: '题型设置', category_split: '类别比例', sample: '抽样', ratio: '比例', reason: '原因',
  kind: '类型', note: '备注', max_attempts: '最多次数', required_attempts: '要求次数', required_score: '要求分数', file: '文件',
};
function fieldText(loc) {
  return loc.filter(p => p !== 'body' && p !== 'query').map(p => FIELD_LABELS[p] || (typeof p === 'number' ? '第 ' + (p + 1) + ' 项' : p)).join(' · ');
}
// FastAPI's own validation messages are English: their stable type names them in Chinese here.
const VALIDATION_TEXT = {
  missing: '必填', string_too_short: '不能为空', string_too_long: '内容过长', int_parsing: '应为整数', float_parsing: '应为数字',
  greater_than: '数值过小', greater_than_equal: '数值过小', less_than: '数值过大', less_than_equal: '数值过大',
  enum: '不是可选的值', literal_error: '不是可选的值', bool_parsing: '应为是/否', list_type: '应为列表', too_short: '项数过少',
  too_long: '项数过多', datetime_parsing: '时间格式不正确', datetime_from_date_parsing: '时间格式不正确', extra_forbidden: '不允许的字段',
  json_invalid: '请求格式不正确', string_type: '应为文字', int_type: '应为整数', dict_type: '格式不正确', timezone_aware: '时间须带时区',
};
function validationText(x) { return (x.type && VALIDATION_TEXT[x.type]) || chineseOnly(String(x.msg || x.message || JSON.stringify(x)).replace(/^Value error, /, '')); }
function errorText(error) {
  if (!(error instanceof ApiError)) return '网络异常，请稍后重试';
  const d = error.detail;
  if (Array.isArray(d)) return d.map(x => (x.loc ? fieldText(x.loc) + '：' : (x.field ? (FIELD_LABELS[x.field] || x.field) + '：' : '')) + validationText(x)).join('；');
  if (d && typeof d === 'object') return chineseOnly(d.message || JSON.stringify(d));
  return chineseOnly(d) || ('请求失败（' + error.status + '）');
}

function toast(message, kind) {
  const box = document.getElementById('toast');
  if (!box) return;
  box.textContent = message; box.className = 'show ' + (kind || '');
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { box.className = ''; }, 4000);
}

function pad2(n) { return String(n).padStart(2, '0'); }
function clockText(date) { return pad2(date.getHours()) + ':' + pad2(date.getMinutes()) + ':' + pad2(date.getSeconds()); }
function dateTimeText(value) { if (!value) return ''; const d = new Date(value); return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + ' ' + clockText(d); }
function pct(v) { return v === null || v === undefined ? '—' : Number(v).toFixed(1) + '%'; }
function num(v) { return v === null || v === undefined ? '—' : Number(v).toFixed(1); }

const LABELS = {
  type: {single: '单选题', multiple: '多选题', judge: '判断题'},
  category: {theory: '应知应会基本理论', law: '基础法律知识', policy: '部门政策业务'},
  rank: {ting: '厅级', chu: '处级', ke: '科级'},
  incident: {whispering: '交头接耳', peeking: '旁窥偷看', copying: '试图抄袭', other: '其他'},
  mode: {formal: '督导考试', practice: '练习'},
  status: {draft: '草稿', drawn: '已抽卷', open: '进行中', closed: '已结束', published: '已发布', in_progress: '作答中', submitted: '已交卷', active: '在用', retired: '停用'},
};
// The viewer's roles, so a page offers only what he may do (the server checks again).
function me() { return window.EXAMBANK_USER || {roles: [], unit_id: null}; }
function hasRole(...roles) { const mine = me().roles; return mine.includes('admin') || roles.some(r => mine.includes(r)); }
function label(kind, value) { return (LABELS[kind] && LABELS[kind][value]) || value || ''; }

document.addEventListener('DOMContentLoaded', () => {
  const out = document.getElementById('logout');
  if (out) out.addEventListener('click', async () => {
    // A page with work that could be lost (the exam room) asks first.
    if (typeof window.confirmLogout === 'function' && !window.confirmLogout()) return;
    try { await api('POST', '/api/auth/logout', undefined, {noRedirect: true}); } catch (_) { /* already gone */ }
    location.assign('/login');
  });
});

// Question statistics flags (app/bank/statistics.py).
const FLAG_LABELS = {too_easy: '过易', too_hard: '过难', negative_discrimination: '区分度为负'};
