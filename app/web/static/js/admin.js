/* Administrator pages: users and roles, the audit log. */
'use strict';

const ROLE_NAMES = {admin: '系统管理员', organiser: '考务', supervisor: '督导', proctor: '监考', bank_editor: '题库管理员',
  unit_admin: '单位管理员', examinee: '考生'};
function roleName(role) { return ROLE_NAMES[role] || role; }

const ACTION_NAMES = {
  'blueprint.create': '新建组卷规则', 'cadre.create': '新增干部', 'cadre.delete': '删除干部', 'cadre.import': '导入名册',
  'cadre.update': '修改干部', 'exam.absence.delete': '撤销缺考', 'exam.absence.record': '登记缺考', 'exam.close': '结束考试',
  'exam.create': '创建考试', 'exam.discard_papers': '作废试卷', 'exam.draw': '抽取试卷', 'exam.participants.add': '确定考生',
  'exam.participants.remove': '移除考生', 'exam.publish': '公布成绩', 'exam.regrade': '重新评分', 'exam.tickets.reissue': '重发准考证密码',
  'exam.update': '修改考试', 'incident.create': '登记违纪', 'paper.redraw': '重抽试卷', 'question.create': '新增题目',
  'question.import': '导入题目', 'question.update': '修改题目', 'unit.create': '新增单位', 'unit.delete': '删除单位',
  'unit.duties': '修改职责清单', 'unit.update': '修改单位', 'user.bootstrap_admin': '创建初始管理员', 'user.change_password': '修改密码',
  'user.create': '新建账号', 'user.reset_password': '重置密码', 'user.update': '修改账号',
  'exam.participant.extra_time': '延长考试时间',
};
const ENTITY_NAMES = {blueprint: '组卷规则', cadre: '干部', exam: '考试', incident: '违纪记录', paper: '试卷', question: '题目',
  unit: '单位', user: '账号', attempt: '答卷', participant: '考生'};
const STAFF_ROLES = ['admin', 'organiser', 'supervisor', 'proctor', 'bank_editor', 'unit_admin'];

function usersConsole() {
  const blank = () => ({username: '', display_name: '', password: '', roles: [], unit_id: ''});
  return {
    users: [], units: [], page: 0, perPage: 50, showExaminees: false, loaded: false, error: '', message: '', busy: false,
    editing: null, form: blank(), roleChoices: STAFF_ROLES,
    get visible() { return this.showExaminees ? this.users : this.users.filter(u => u.roles.some(r => r !== 'examinee')); },
    get total() { return this.visible.length; },
    get pages() { return Math.max(1, Math.ceil(this.total / this.perPage)); },
    get shown() { return this.visible.slice(this.page * this.perPage, (this.page + 1) * this.perPage); },
    roleName, unitName(id) { const u = this.units.find(x => x.id === id); return u ? u.name : '单位 ' + id; },
    async init() {
      try { this.units = await api('GET', '/api/units'); } catch (_) { this.units = []; }
      await this.load();
    },
    async load() {
      try { this.users = await apiAll('/api/users'); this.error = ''; } catch (e) { this.error = errorText(e); }
      this.page = Math.min(this.page, this.pages - 1);
      this.loaded = true;
    },
    edit(user) {
      this.editing = user; this.message = '';
      this.form = {username: user.username, display_name: user.display_name || '', password: '', roles: user.roles.filter(r => r !== 'examinee'), unit_id: user.unit_id || ''};
      this.$nextTick(() => document.getElementById('nu-name').focus());
    },
    reset() { this.editing = null; this.form = blank(); },
    async save() {
      this.error = ''; this.message = '';
      if (!this.form.roles.length) { this.error = '请至少选择一个角色'; return; }
      if (this.form.roles.includes('unit_admin') && !this.form.unit_id) { this.error = '单位管理员须选择所属单位'; return; }
      const unitId = this.form.roles.includes('unit_admin') ? Number(this.form.unit_id) : null;
      this.busy = true;
      try {
        if (this.editing) {
          await api('PATCH', '/api/users/' + this.editing.id, {roles: this.form.roles, unit_id: unitId, display_name: this.form.display_name || null});
          if (this.form.password) await api('POST', '/api/users/' + this.editing.id + '/password', {password: this.form.password});
          this.message = '已保存账号 ' + this.editing.username + (this.form.password ? '，密码已重置' : '') + '。';
        } else {
          const made = await api('POST', '/api/users', {username: this.form.username, password: this.form.password, roles: this.form.roles,
            unit_id: unitId, display_name: this.form.display_name || null});
          this.message = '已新建账号 ' + made.username + '。';
        }
        this.reset();
        await this.load();
      } catch (e) { this.error = errorText(e); } finally { this.busy = false; }
    },
    async toggleActive(user) {
      const verb = user.is_active ? '停用' : '启用';
      if (user.is_active && !window.confirm('确定停用账号 ' + user.username + ' 吗？停用后该账号不能登录。')) return;
      this.error = ''; this.message = '';
      try {
        await api('PATCH', '/api/users/' + user.id, {is_active: !user.is_active});
        this.message = '已' + verb + '账号 ' + user.username + '。';
        await this.load();
      } catch (e) { this.error = errorText(e); }
    },
  };
}

function auditLog() {
  return {
    items: [], total: 0, page: 0, perPage: 50, loaded: false, error: '', staff: [],
    filters: {action: '', entity: '', entity_id: '', actor_id: ''},
    actionChoices: Object.entries(ACTION_NAMES), entityChoices: Object.entries(ENTITY_NAMES),
    get pages() { return Math.max(1, Math.ceil(this.total / this.perPage)); },
    actionName(a) { return ACTION_NAMES[a] || a; },
    entityName(e) { return ENTITY_NAMES[e] || e; },
    actorName(id) { if (id === null || id === undefined) return '系统'; const u = this.staff.find(x => x.id === id); return u ? u.username : '用户 ' + id; },
    async init() {
      try { this.staff = (await apiAll('/api/users')).filter(u => u.roles.some(r => r !== 'examinee')); } catch (_) { this.staff = []; }
      await this.load();
    },
    async load() {
      const query = new URLSearchParams({limit: this.perPage, offset: this.page * this.perPage});
      for (const [key, value] of Object.entries(this.filters)) if (value !== '' && value !== null) query.set(key, value);
      try {
        const data = await api('GET', '/api/audit?' + query);
        this.items = data.items; this.total = data.total; this.error = '';
      } catch (e) { this.error = errorText(e); }
      this.loaded = true;
    },
    clear() { this.filters = {action: '', entity: '', entity_id: '', actor_id: ''}; this.page = 0; this.load(); },
  };
}
