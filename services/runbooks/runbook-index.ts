/**
 * BM25 retrieval over runbook sections (MiniSearch, its BM25+ scoring): a decision's incident
 * class, rule, top features and recent event text in, the best sections (title, score, link) out.
 * A section's title, its runbook's title and its front-matter links are indexed beside its text,
 * and a section whose runbook names the query's class, rule or action counts more.
 */
import MiniSearch from 'minisearch';
import { isWordTerm, runbookTerms } from './runbook-tokens.js';
import type { RunbookSection } from './runbook-files.js';

/** What retrieval is asked with; every part optional, at least one needed. */
export interface RunbookQuery {
  /** The incident class the classifier named (`memory_leak`). */
  readonly incidentClass?: string;
  /** The rule that decided. */
  readonly rule?: string;
  /** The action decided (`restart`). */
  readonly action?: string;
  /** The features that contributed most (`mem.slope`). */
  readonly features?: readonly string[];
  /** Recent event text and anything else in free words (English or Chinese). */
  readonly text?: string;
}

/** One section found: where to read it and how well it matched. */
export interface RunbookHit {
  readonly title: string;
  /** The runbook's title (its front matter's). */
  readonly runbook: string;
  /** `<folder>/<file>.md#<anchor>`, a link that works in the repository's web view. */
  readonly link: string;
  /** BM25 score, rounded to 3 decimals; only comparable within one query. */
  readonly score: number;
  readonly lang: string;
}

/** How many sections a search returns unless told: enough to act on, short enough for a page. */
export const DEFAULT_RUNBOOK_HITS = 3;
/** How much more a section counts when its runbook names the query's class, rule or action. */
const LINKED_BOOST = 2;

interface IndexedSection {
  readonly id: number;
  readonly title: string;
  readonly runbook: string;
  readonly links: string;
  readonly text: string;
}

/** The runbook sections of a folder, indexed once; searched per decision. */
export class RunbookIndex {
  private readonly search: MiniSearch<IndexedSection>;

  /** Indexes `sections`; `folder` prefixes the links (the runbooks folder's name in the repository). */
  constructor(
    private readonly sections: readonly RunbookSection[],
    private readonly folder = 'runbooks',
  ) {
    this.search = new MiniSearch<IndexedSection>({
      fields: ['title', 'runbook', 'links', 'text'],
      tokenize: runbookTerms,
      processTerm: (term) => term,
      searchOptions: {
        boost: { title: 2, runbook: 1.5, links: 2 },
        prefix: (term) => isWordTerm(term) && term.length >= 5,
      },
    });
    this.search.addAll(
      sections.map((s, id) => ({
        id,
        title: s.title,
        runbook: s.runbook.title,
        links: [...s.runbook.classes, ...s.runbook.rules, ...s.runbook.actions].join(' '),
        text: s.text,
      })),
    );
  }

  /** How many sections are indexed. */
  get size(): number {
    return this.sections.length;
  }

  /** The best `limit` sections for a query, best first; none when nothing matches. */
  find(query: RunbookQuery, limit = DEFAULT_RUNBOOK_HITS): RunbookHit[] {
    const words = queryText(query);
    if (words.trim() === '')
      throw new Error('runbook search: the query is empty; give text, a class, a rule or features');
    const linked = new Set([query.incidentClass, query.rule, query.action].filter((v): v is string => !!v));
    const results = this.search.search(words, {
      boostDocument: (id) => {
        const s = this.sections[id as number];
        if (!s || linked.size === 0) return 1;
        const names = [...s.runbook.classes, ...s.runbook.rules, ...s.runbook.actions];
        return names.some((n) => linked.has(n)) ? LINKED_BOOST : 1;
      },
    });
    return results.slice(0, limit).map((r) => {
      const s = this.sections[r.id as number] as RunbookSection;
      return {
        title: s.title,
        runbook: s.runbook.title,
        link: `${this.folder}/${s.file}${s.anchor === '' ? '' : `#${s.anchor}`}`,
        score: Math.round(r.score * 1000) / 1000,
        lang: s.runbook.lang,
      };
    });
  }
}

/** The query's parts as one text: the class and rule as names and as words, then the rest. */
function queryText(q: RunbookQuery): string {
  return [q.incidentClass, q.rule, q.action, ...(q.features ?? []), q.text].filter((v) => !!v).join(' ');
}
