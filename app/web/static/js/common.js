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

function errorText(error) {
  if (!(error instanceof ApiError)) return '网络异常，请稍后重试';
  const d = error.detail;
  if (Array.isArray(d)) return d.map(x => (x.loc ? x.loc.slice(1).join('.') + '：' : (x.field ? x.field + '：' : '')) + (x.msg || x.message || JSON.stringify(x))).join('；');
  if (d && typeof d === 'object') return d.message || JSON.stringify(d);
  return d || ('请求失败（' + error.status + '）');
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
