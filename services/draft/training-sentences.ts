/**
 * The intent model's training sentences, generated from templates and paraphrases in English and
 * Chinese with a seeded generator: the same seed gives the same sentences, so the shipped model
 * can be retrained exactly. The action phrase carries the intent; conditions, metrics and the
 * optional clauses (verification, compensation, paging, approval, shadow, cooldown) are mixed in
 * across intents so the model learns the action, not the metric it usually goes with.
 */
import { seededRandom } from '../classifier/seeded-random.js';
import type { Intent } from './intents.js';

/** One labeled training sentence. */
export interface TrainingSentence {
  readonly text: string;
  readonly intent: Intent;
  readonly language: 'en' | 'zh';
}

const SERVICES = [
  'checkout',
  'payments',
  'search',
  'batch',
  'orders',
  'cart',
  'api',
  'web',
  'auth',
  'billing',
];

const EN_ACTIONS: Record<Intent, readonly string[]> = {
  scale_out: [
    'scale out {s}',
    'scale {s} out',
    'add a replica to {s}',
    'add one more replica of {s}',
    'scale up {s}',
    'give {s} another instance',
    'add capacity to {s}',
    'spin up an extra pod for {s}',
    "increase {s}'s replicas by one",
    'scale {s} out by two',
    'horizontally scale {s}',
    'bump the replica count of {s}',
    'add two replicas to {s}',
    'scale out the {s} service',
    'launch another {s} instance',
    'grow {s} by one replica',
    'scale out the {s} pods',
    'scale {s} out by one replica',
    'add replicas to {s}',
  ],
  restart: [
    'restart {s}',
    'restart the {s} pod',
    'bounce {s}',
    'reboot {s}',
    'recycle the {s} container',
    'do a graceful restart of {s}',
    'restart the affected {s} instance',
    'cycle {s}',
    'give {s} a restart',
    'restart the {s} service',
    'gracefully restart {s}',
    'kill and restart the {s} process',
    'restart the leaking {s} pod',
    'reboot the {s} host',
    'do a rolling restart of {s}',
    'restart the {s} workers',
    'bounce the {s} pods',
  ],
  rollback: [
    'roll back {s}',
    'roll {s} back',
    'revert {s} to the previous release',
    'rollback the last deploy of {s}',
    'undo the {s} deploy',
    'go back to the last good version of {s}',
    'revert the release of {s}',
    'roll back the deployment of {s}',
    'rollback {s}',
    'revert the {s} rollout',
    'roll {s} back to the prior version',
    'restore the previous {s} build',
    "revert {s}'s release",
    'undo the last release of {s}',
    'put {s} back on the previous version',
    'roll the {s} deployment back',
  ],
  clean_disk: [
    'clean up the disk on {s}',
    "clean {s}'s disk",
    'free up disk space on {s}',
    'purge old logs on {s}',
    'delete rotated logs and tmp files on {s}',
    'run a disk cleanup on {s}',
    'remove unused images from {s}',
    'clear temp files on {s}',
    'clean up {s}',
    'reclaim disk space on {s}',
    'prune old files on the {s} volume',
    'wipe the tmp directory of {s}',
    'purge old files on {s}',
    'clean up rotated logs on {s}',
  ],
  open_circuit_breaker: [
    'open the circuit breaker on {s}',
    'trip the breaker for {s}',
    'cut {s} off from its dependencies',
    "open {s}'s circuit breaker",
    'stop {s} calling its failing dependencies',
    "break the circuit to {s}'s upstreams",
    'fail fast on calls from {s}',
    'isolate {s} from its dependencies',
    'open the breaker in front of {s} dependencies',
    'shed calls from {s} to its upstream',
    'trip the circuit breaker of {s}',
    'stop {s} from calling its dependencies',
    'open the breaker on {s}',
    'break the circuit for {s}',
  ],
  page: [
    'page the owner of {s}',
    "just page {s}'s owner",
    'notify the on-call for {s}',
    'alert the owning team of {s}',
    'only page the team and do nothing else',
    'wake up the {s} on-call',
    'send a page to team-{s}',
    'tell the owner of {s}',
    'escalate to the {s} owner without acting',
    'page the {s} owner, take no action',
    'just notify the owner of {s}',
    'page team-{s} only',
    'notify the owner about {s}, no automation',
    'page on-call for {s}',
    'alert the {s} owner and nothing else',
    'notify team-{s}',
    'page the owner, no automation',
    'just send the {s} owner a page',
    'let the owning team of {s} know',
    'ping the {s} on-call',
    'page the on-call engineer for {s}',
  ],
};

const ZH_ACTIONS: Record<Intent, readonly string[]> = {
  scale_out: [
    '扩容 {s}',
    '给 {s} 扩容',
    '为 {s} 增加一个副本',
    '{s} 加一个实例',
    '对 {s} 进行水平扩容',
    '横向扩展 {s}',
    '把 {s} 的副本数加一',
    '给 {s} 加两个副本',
    '{s} 扩一个实例',
    '扩展 {s} 的实例数',
    '扩容',
    '就扩容',
    '扩容两个副本',
    '增加实例',
  ],
  restart: [
    '重启 {s}',
    '重启 {s} 的实例',
    '对 {s} 做一次优雅重启',
    '把 {s} 重启一下',
    '重新启动 {s}',
    '重启 {s} 的容器',
    '优雅地重启 {s}',
    '将 {s} 的进程重启',
    '重启',
    '就重启',
    '重启它',
  ],
  rollback: [
    '回滚 {s}',
    '把 {s} 回滚到上一个版本',
    '回退 {s} 的发布',
    '撤回 {s} 的最新部署',
    '将 {s} 回滚',
    '把 {s} 退回上一个稳定版本',
    '回滚 {s} 的上线',
    '回退 {s} 到之前的版本',
    '回滚',
    '就回滚',
    '立即回滚',
  ],
  clean_disk: [
    '清理 {s} 的磁盘',
    '清理 {s} 的日志和临时文件',
    '释放 {s} 的磁盘空间',
    '删除 {s} 上的旧日志',
    '对 {s} 做磁盘清理',
    '清除 {s} 的临时文件',
    '清理 {s} 上没用的镜像',
    '给 {s} 腾出磁盘空间',
    '清理磁盘',
    '清理一下日志',
    '清理',
  ],
  open_circuit_breaker: [
    '打开 {s} 的熔断器',
    '对 {s} 开启熔断',
    '熔断 {s} 对依赖的调用',
    '切断 {s} 到上游的调用',
    '让 {s} 对依赖快速失败',
    '触发 {s} 的熔断',
    '隔离 {s} 的下游依赖',
    '断开 {s} 对依赖服务的调用',
    '熔断',
    '开启熔断',
    '打开熔断器',
  ],
  page: [
    '通知 {s} 的负责人',
    '只通知负责人',
    '呼叫 {s} 的值班人员',
    '给负责人发告警',
    '仅通知 owner，不做操作',
    '提醒 {s} 团队',
    '告知 {s} 的负责人，不自动处理',
    '只呼叫值班，不执行动作',
    '通知负责人即可',
    '通知负责人',
    '呼叫值班',
    '只通知负责人',
    '通知 team-{s}',
    '告警给负责人',
    '呼叫值班人员',
  ],
};

/** The metrics an intent usually reads (the rest are mixed in at random). */
const TYPICAL: Record<Intent, readonly string[]> = {
  scale_out: ['cpu', 'latency'],
  restart: ['mem', 'restarts'],
  rollback: ['errors'],
  clean_disk: ['disk'],
  open_circuit_breaker: ['upstream_errors', 'errors', 'latency'],
  page: ['cpu', 'mem', 'disk', 'errors', 'latency'],
};

const EN_METRIC: Record<string, readonly [string, string][]> = {
  cpu: [
    ['cpu', '90%'],
    ['cpu usage', '85 percent'],
    ['cpu utilization', '95%'],
    ['processor load', '80%'],
    ['average cpu', '75%'],
    ['the latest cpu sample', '97%'],
  ],
  mem: [
    ['memory', '90%'],
    ['memory usage', '85%'],
    ['heap usage', '92 percent'],
    ['ram', '88%'],
  ],
  disk: [
    ['disk usage', '85%'],
    ['disk', '90%'],
    ['the volume', '92%'],
    ['storage', '80 percent'],
  ],
  latency: [
    ['latency', '800ms'],
    ['p95 latency', '1.5s'],
    ['response time', '2 seconds'],
    ['latency', '500 ms'],
  ],
  errors: [
    ['errors', '5 per second'],
    ['the error rate', '10/s'],
    ['5xx errors', '300 per minute'],
    ['errors', '2 errors/s'],
  ],
  upstream_errors: [
    ['upstream errors', '10 per second'],
    ['dependency errors', '5/s'],
    ['failed calls to dependencies', '20 per second'],
  ],
  restarts: [
    ['restarts', '3'],
    ['the restart count', '5'],
  ],
};
const ZH_METRIC: Record<string, readonly [string, string][]> = {
  cpu: [
    ['CPU', '90%'],
    ['CPU 使用率', '85%'],
    ['处理器', '百分之九十'],
    ['平均 CPU', '80%'],
    ['最新 CPU 采样', '95%'],
  ],
  mem: [
    ['内存', '90%'],
    ['内存使用率', '85%'],
    ['内存占用', '88%'],
  ],
  disk: [
    ['磁盘', '85%'],
    ['磁盘使用率', '90%'],
    ['硬盘', '80%'],
  ],
  latency: [
    ['延迟', '800 毫秒'],
    ['响应时间', '2 秒'],
    ['p95 延迟', '1 秒'],
  ],
  errors: [
    ['错误率', '每秒 5 个'],
    ['错误', '每秒 10 个'],
    ['报错', '每分钟 300 个'],
  ],
  upstream_errors: [
    ['上游错误', '每秒 10 个'],
    ['依赖错误率', '每秒 5 个'],
  ],
  restarts: [['重启次数', '3']],
};
const EN_CMP = [
  'passes',
  'jumps above',
  'goes beyond',
  'is more than',
  'hits',
  'is at least',
  'goes above',
  'is above',
  'exceeds',
  'stays above',
  'is over',
  'climbs past',
  'is higher than',
  'reaches',
  'tops',
];
const ZH_CMP = ['超过', '高于', '大于', '达到', '突破', '不低于', '在', '超出'];
const EN_DUR = [
  '5 minutes',
  'two minutes',
  '10 minutes',
  'ten minutes',
  '1 minute',
  '3m',
  'half an hour',
  '15 minutes',
];
const ZH_DUR = ['5 分钟', '五分钟', '10 分钟', '十分钟', '两分钟', '半小时', '3 分钟', '15分钟'];
const COMP: Record<Intent, readonly [string, string]> = {
  scale_out: ['scale back in', '缩容'],
  restart: ['add a replica', '扩容'],
  rollback: ['roll forward', '前滚'],
  clean_disk: ['expand the volume by 25%', '扩容磁盘'],
  open_circuit_breaker: ['close the breaker', '关闭熔断'],
  page: ['page again', '再次通知'],
};

type Pick = <T>(list: readonly T[]) => T;

const EN_GROUPS = [
  'every tier 1 service',
  'tier 2 services',
  'all services',
  'any service',
  'tier 2 through 4 services',
  'every service',
];
const ZH_GROUPS = ['一级服务', '二级服务', '所有服务', '全部服务', '任何服务'];
const EN_PAGE = [
  'page the owner',
  'notify the owner',
  'page the on-call',
  'escalate to team-data',
  'alert the owning team',
  'tell the owner',
  'page team-payments',
];
const ZH_PAGE = ['通知负责人', '呼叫值班', '升级给 team-data', '告警给负责人', '通知 owner'];

function enSentence(intent: Intent, pick: Pick, chance: (p: number) => boolean): string {
  const s = chance(0.2) ? pick(EN_GROUPS) : pick(SERVICES);
  const action = pick(EN_ACTIONS[intent]).replaceAll('{s}', s);
  const metric = chance(0.7) ? pick(TYPICAL[intent]) : pick(Object.keys(EN_METRIC));
  const [name, value] = pick(EN_METRIC[metric]!);
  const condition = chance(0.2)
    ? `${name} is ${pick(['far above its normal', 'way above normal', 'unusually high', '4 standard deviations above its baseline'])}`
    : `${name} ${pick(EN_CMP)} ${value}`;
  const when = pick(['when', 'if', 'whenever', 'once', 'as soon as']);
  const forPart = chance(0.4) ? ` for ${pick(EN_DUR)}` : '';
  const deploy = chance(intent === 'rollback' ? 0.6 : 0.1)
    ? ` ${pick(['after a deploy', 'right after a release', 'following a rollout'])}`
    : '';
  const clauses: string[] = [];
  if (chance(0.3)) clauses.push(pick(['unless it is in maintenance', 'but not during maintenance']));
  if (chance(0.4))
    clauses.push(
      `if it is not back ${pick(['', 'under 70% '])}within ${pick(EN_DUR)}, ${chance(0.6) ? COMP[intent][0] : ''}${chance(0.6) ? ` and ${pick(EN_PAGE)}` : ''}`.replace(
        /, $/,
        '',
      ),
    );
  if (chance(0.15))
    clauses.push(pick(['with approval', 'only after someone approves', 'ask before doing it']));
  if (chance(0.15)) clauses.push(pick(['in shadow mode', 'as a dry run', 'just log it for now']));
  if (chance(0.15)) clauses.push(`at most once every ${pick(EN_DUR)}`);
  const tail = clauses.length > 0 ? `, ${clauses.join(', ')}` : '';
  return chance(0.5)
    ? `${action} ${when} ${condition}${forPart}${deploy}${tail}`
    : `${when[0]!.toUpperCase()}${when.slice(1)} ${condition}${forPart}${deploy}, ${action}${tail}`;
}

function zhSentence(intent: Intent, pick: Pick, chance: (p: number) => boolean): string {
  const s = chance(0.2) ? pick(ZH_GROUPS) : pick(SERVICES);
  const action = pick(ZH_ACTIONS[intent]).replaceAll('{s}', s);
  const metric = chance(0.7) ? pick(TYPICAL[intent]) : pick(Object.keys(ZH_METRIC));
  const [name, value] = pick(ZH_METRIC[metric]!);
  const forPart = chance(0.4) ? `持续${pick(ZH_DUR)}` : '';
  const deploy = chance(intent === 'rollback' ? 0.6 : 0.1) ? pick(['发布后', '上线后', '部署后']) : '';
  const condition = chance(0.2)
    ? `${s} 的${name}${deploy}${pick(['远高于平时', '明显高于平时', '异常升高'])}`
    : `${s} 的${name}${deploy}${forPart}${pick(ZH_CMP)}${value}`;
  const clauses: string[] = [];
  if (chance(0.3)) clauses.push(pick(['维护期间除外', '不在维护窗口时']));
  if (chance(0.4))
    clauses.push(
      `${pick(ZH_DUR)}内未恢复则${chance(0.6) ? COMP[intent][1] : ''}${chance(0.6) ? `并${pick(ZH_PAGE)}` : ''}`,
    );
  if (chance(0.2)) clauses.push(pick(['需要审批', '审批后执行', '需人工确认']));
  if (chance(0.2)) clauses.push(`失败则${pick(ZH_PAGE)}`);
  if (chance(0.15)) clauses.push(pick(['影子模式运行', '先只记录不执行']));
  if (chance(0.15)) clauses.push(`冷却${pick(ZH_DUR)}`);
  const head = `${pick(['当', '如果', '若', '一旦'])}${condition}${pick(['时', '的时候', '，', ''])}`;
  const body = chance(0.5) ? `${head}${action}` : `${action}，${head.replace(/[，]$/, '')}`;
  return [body, ...clauses].join('，');
}

/** `perIntent` English and as many Chinese sentences per intent, from `seed`. */
export function trainingSentences(perIntent = 260, seed = 20260105): TrainingSentence[] {
  const random = seededRandom(seed);
  const pick: Pick = (list) => list[Math.floor(random() * list.length)]!;
  const chance = (p: number) => random() < p;
  const out: TrainingSentence[] = [];
  for (const intent of Object.keys(EN_ACTIONS) as Intent[])
    for (let i = 0; i < perIntent; i++) {
      out.push({
        text: enSentence(intent, pick, chance).replace(/\s+/g, ' ').trim(),
        intent,
        language: 'en',
      });
      out.push({ text: zhSentence(intent, pick, chance), intent, language: 'zh' });
    }
  return out;
}

/** The English words of the training sentences, for the language check. */
export function trainingVocabulary(): Set<string> {
  const words = new Set<string>();
  for (const list of Object.values(EN_ACTIONS))
    for (const t of list) for (const w of t.toLowerCase().match(/\p{L}+/gu) ?? []) words.add(w);
  for (const list of [EN_CMP, EN_DUR, ...Object.values(EN_METRIC).flat().flat()])
    for (const t of Array.isArray(list) ? list : [list])
      for (const w of String(t)
        .toLowerCase()
        .match(/\p{L}+/gu) ?? [])
        words.add(w);
  for (const w of 'when if whenever once soon far above normal unusually high standard deviations baseline way deploy release rollout following maintenance unless back within under page owner approval approves someone ask before doing shadow mode dry run log most every scale forward roll close breaker expand volume'.split(
    ' ',
  ))
    words.add(w);
  return words;
}
