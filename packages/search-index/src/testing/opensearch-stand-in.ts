/**
 * A local HTTP server speaking the part of the OpenSearch REST API the OpenSearch adapter uses, so the
 * real client can be pointed at it in tests: index templates, index create/exists/delete, _bulk and
 * _msearch (NDJSON), _count, _delete_by_query, routing to shards. It records every request and really
 * evaluates the query subset the adapter sends (bool with must/filter/must_not/should, term, terms,
 * range, exists, match_all, multi_match best_fields with field boosts scored by BM25, knn with cosine and
 * an inner filter). Anything it does not understand (endpoint, parameter, query shape, mapping) is
 * answered 400, like OpenSearch answers unknown DSL, so the adapter cannot come to rely on something
 * only a lenient fake would accept.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Bm25Index, VectorIndex, normalize } from '@pai/retrieval';

export interface RecordedRequest {
  method: string;
  /** The URL path, e.g. "/pai-items/_count". */
  path: string;
  /** Query-string parameters. */
  query: Record<string, string>;
  /** Parsed JSON body; for _bulk and _msearch the array of parsed NDJSON lines; undefined when empty. */
  body: unknown;
}

export interface StoredDocument {
  id: string;
  routing: string | null;
  shard: number;
  source: Record<string, unknown>;
}

export interface FaultOptions {
  /** HTTP status to answer (default 500). */
  status?: number;
  /** The error type in the body (default "internal_server_error"). */
  type?: string;
  /** The error reason in the body (default "injected fault"). */
  reason?: string;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Which requests fail (default all). */
  match?: (request: RecordedRequest) => boolean;
}

export interface OpenSearchStandIn {
  /** Base URL for the client's `node`. */
  readonly url: string;
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[];
  clearRequests(): void;
  /** The next matching requests answer an error instead (after being recorded). */
  failNext(options?: FaultOptions): void;
  /** The stored documents of an index (empty when it does not exist). */
  documents(index: string): StoredDocument[];
  /** The effective mappings and flattened settings of an index, or undefined. */
  indexDefinition(index: string): { mappings: Record<string, unknown>; settings: Record<string, unknown> } | undefined;
  close(): Promise<void>;
}

export interface OpenSearchStandInOptions {
  /** Default number_of_shards of new indexes (default 2, so routing mistakes show). */
  shards?: number;
}

/** An OpenSearch-shaped error answer. */
class ApiError extends Error {
  constructor(readonly status: number, readonly type: string, reason: string) {
    super(reason);
  }
}

const bad = (reason: string, type = 'illegal_argument_exception') => new ApiError(400, type, reason);
const parsingError = (reason: string) => bad(reason, 'parsing_exception');

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The single key of a `{ name: body }` clause. */
function single(clause: unknown, where: string): [string, unknown] {
  if (!isObject(clause)) throw parsingError(`[${where}] expected an object`);
  const keys = Object.keys(clause);
  if (keys.length !== 1) throw parsingError(`[${where}] expected exactly one key, got [${keys.join(', ')}]`);
  return [keys[0]!, clause[keys[0]!]];
}

function onlyKeys(value: Json, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw parsingError(`[${where}] does not support [${key}] (stand-in subset)`);
  }
}

const asArray = (value: unknown): unknown[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** FNV-1a: stable shard choice for a routing value. */
function shardOf(routing: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < routing.length; i++) {
    hash ^= routing.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

/** Flattens `{index: {knn: true}}` and `{"index.knn": true}` alike to `{"index.knn": true}`. */
function flattenSettings(settings: unknown, prefix = ''): Json {
  const out: Json = {};
  if (!isObject(settings)) return out;
  for (const [key, value] of Object.entries(settings)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (isObject(value) && !name.startsWith('index.analysis') && name !== 'analysis') Object.assign(out, flattenSettings(value, name));
    else out[name] = value;
  }
  // "analysis" and "index.analysis" name the same thing.
  if ('analysis' in out) {
    out['index.analysis'] = out.analysis;
    delete out.analysis;
  }
  return out;
}

const truthy = (value: unknown) => value === true || value === 'true';

interface FieldMapping {
  type: string;
  dimension?: number;
  enabled?: boolean;
}

interface StoredDoc extends StoredDocument {
  vectors: Map<string, Float32Array>;
}

/** One index: mapping, documents, and the BM25 and vector structures its queries use. */
class StandInIndex {
  readonly fields = new Map<string, FieldMapping>();
  readonly docs = new Map<string, StoredDoc>();
  readonly bm25: Bm25Index<StoredDoc>;
  readonly vectors = new Map<string, VectorIndex<StoredDoc>>();
  readonly dynamic: unknown;
  readonly routingRequired: boolean;
  readonly shards: number;
  private nextAutoId = 1;

  constructor(readonly name: string, readonly mappings: Json, readonly settings: Json, defaultShards: number) {
    onlyKeys(mappings, ['dynamic', '_routing', 'properties', '_source'], 'mappings');
    this.dynamic = mappings.dynamic ?? true;
    if (![true, false, 'true', 'false', 'strict'].includes(this.dynamic as never)) throw bad(`unknown dynamic value [${String(this.dynamic)}]`, 'mapper_parsing_exception');
    this.routingRequired = isObject(mappings._routing) && truthy(mappings._routing.required);
    this.shards = Number(settings['index.number_of_shards'] ?? defaultShards);
    if (!Number.isInteger(this.shards) || this.shards < 1) throw bad('index.number_of_shards must be a positive integer');
    const analyzers = isObject(settings['index.analysis']) && isObject((settings['index.analysis'] as Json).analyzer)
      ? Object.keys((settings['index.analysis'] as Json).analyzer as Json) : [];
    const knn = truthy(settings['index.knn']);
    const properties = mappings.properties ?? {};
    if (!isObject(properties)) throw bad('[properties] must be an object', 'mapper_parsing_exception');
    for (const [field, definition] of Object.entries(properties)) {
      if (!isObject(definition)) throw bad(`field [${field}] must be an object`, 'mapper_parsing_exception');
      const type = String(definition.type ?? (definition.properties !== undefined || definition.enabled !== undefined ? 'object' : undefined));
      switch (type) {
        case 'keyword': case 'date': case 'boolean': case 'long': case 'integer': case 'float': case 'double':
          onlyKeys(definition, ['type', 'format', 'index', 'doc_values', 'ignore_above'], `field ${field}`);
          this.fields.set(field, { type });
          break;
        case 'text': {
          onlyKeys(definition, ['type', 'analyzer', 'search_analyzer'], `field ${field}`);
          for (const key of ['analyzer', 'search_analyzer']) {
            const analyzer = definition[key];
            if (analyzer !== undefined && !['standard', 'english', 'simple', 'whitespace', ...analyzers].includes(analyzer as string)) {
              throw bad(`analyzer [${String(analyzer)}] has not been configured in mappings`, 'mapper_parsing_exception');
            }
          }
          this.fields.set(field, { type });
          break;
        }
        case 'object':
          onlyKeys(definition, ['type', 'enabled'], `field ${field}`);
          if (definition.enabled !== false) throw bad(`stand-in supports only disabled objects (field [${field}])`, 'mapper_parsing_exception');
          this.fields.set(field, { type, enabled: false });
          break;
        case 'knn_vector': {
          onlyKeys(definition, ['type', 'dimension', 'method'], `field ${field}`);
          const dimension = definition.dimension;
          if (!Number.isInteger(dimension) || (dimension as number) < 1) throw bad(`[dimension] must be a positive integer (field [${field}])`, 'mapper_parsing_exception');
          if (!knn) throw bad(`index.knn must be true to map knn_vector field [${field}] for approximate search`, 'mapper_parsing_exception');
          if (definition.method !== undefined) {
            const method = definition.method;
            if (!isObject(method)) throw bad('[method] must be an object', 'mapper_parsing_exception');
            onlyKeys(method, ['name', 'space_type', 'engine', 'parameters'], 'method');
            if (method.name !== 'hnsw') throw bad(`unsupported method [${String(method.name)}]`, 'mapper_parsing_exception');
            if (method.space_type !== 'cosinesimil') throw bad(`stand-in supports space_type cosinesimil only, got [${String(method.space_type)}]`, 'mapper_parsing_exception');
            if (!['lucene', 'faiss', 'nmslib'].includes(method.engine as string)) throw bad(`unknown engine [${String(method.engine)}]`, 'mapper_parsing_exception');
            if (method.parameters !== undefined) {
              if (!isObject(method.parameters)) throw bad('[parameters] must be an object', 'mapper_parsing_exception');
              onlyKeys(method.parameters, ['m', 'ef_construction'], 'method.parameters');
            }
          }
          this.fields.set(field, { type, dimension: dimension as number });
          this.vectors.set(field, new VectorIndex<StoredDoc>(dimension as number));
          break;
        }
        default:
          throw bad(`no handler for type [${String(type)}] declared on field [${field}]`, 'mapper_parsing_exception');
      }
    }
    const boosts = Object.fromEntries([...this.fields].filter(([, m]) => m.type === 'text').map(([f]) => [f, 1]));
    this.bm25 = new Bm25Index<StoredDoc>({ boosts });
  }

  /** Indexes a document; throws ApiError (reported per bulk item) when it does not fit the mapping. */
  index(id: string | undefined, routing: string | null, source: unknown): { id: string; created: boolean } {
    if (this.routingRequired && routing === null) throw new ApiError(400, 'routing_missing_exception', `routing is required for [${this.name}]`);
    if (!isObject(source)) throw bad('the document must be an object', 'mapper_parsing_exception');
    const vectors = new Map<string, Float32Array>();
    for (const [field, value] of Object.entries(source)) {
      const mapping = this.fields.get(field);
      if (mapping === undefined) {
        if (this.dynamic === 'strict') {
          throw new ApiError(400, 'strict_dynamic_mapping_exception', `mapping set to strict, dynamic introduction of [${field}] within [_doc] is not allowed`);
        }
        throw bad(`stand-in does not support dynamic mapping (field [${field}])`, 'mapper_parsing_exception');
      }
      if (value === null) continue;
      const fail = (what: string) => bad(`failed to parse field [${field}] of type [${mapping.type}]: ${what}`, 'mapper_parsing_exception');
      switch (mapping.type) {
        case 'keyword': case 'text':
          if (!asArray(value).every((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) throw fail('not a string');
          break;
        case 'date':
          if (!(typeof value === 'string' || typeof value === 'number') || Number.isNaN(typeof value === 'number' ? value : Date.parse(value))) throw fail('not a date');
          break;
        case 'knn_vector':
          if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) throw fail('not an array of numbers');
          if (value.length !== mapping.dimension) throw fail(`vector length ${value.length} does not match dimension ${mapping.dimension}`);
          vectors.set(field, normalize(value as number[]));
          break;
        case 'object':
          break;
        default:
          if (typeof value !== (mapping.type === 'boolean' ? 'boolean' : 'number')) throw fail('wrong value type');
      }
    }
    const docId = id ?? `auto-${this.nextAutoId++}`;
    const previous = this.docs.get(docId);
    if (previous !== undefined) this.delete(docId);
    const doc: StoredDoc = { id: docId, routing, shard: routing === null ? shardOf(docId, this.shards) : shardOf(routing, this.shards), source, vectors };
    this.docs.set(docId, doc);
    const textFields: Record<string, string> = {};
    for (const [field, mapping] of this.fields) {
      const value = source[field];
      if (mapping.type === 'text' && value !== null && value !== undefined) textFields[field] = asArray(value).map(String).join(' ');
    }
    this.bm25.set(doc, textFields);
    for (const [field, vector] of vectors) this.vectors.get(field)!.set(doc, vector);
    return { id: docId, created: previous === undefined };
  }

  delete(id: string): boolean {
    const doc = this.docs.get(id);
    if (doc === undefined) return false;
    this.docs.delete(id);
    this.bm25.delete(doc);
    for (const vectors of this.vectors.values()) vectors.delete(doc);
    return true;
  }

  /** The documents a routing value can reach (all when there is none). */
  shardFilter(routing: string | undefined): (doc: StoredDoc) => boolean {
    if (routing === undefined) return () => true;
    const shards = new Set(routing.split(',').map((r) => shardOf(r, this.shards)));
    return (doc) => shards.has(doc.shard);
  }

  // ---- query evaluation ----

  private field(name: unknown, where: string, types?: readonly string[]): FieldMapping {
    if (typeof name !== 'string') throw parsingError(`[${where}] field name must be a string`);
    const mapping = this.fields.get(name);
    // OpenSearch quietly matches nothing on unmapped fields; a stand-in that did so would hide typos.
    if (mapping === undefined) throw bad(`[${where}] on unmapped field [${name}] (stand-in refuses)`, 'query_shard_exception');
    if (types !== undefined && !types.includes(mapping.type)) throw bad(`[${where}] is not supported on field [${name}] of type [${mapping.type}]`, 'query_shard_exception');
    return mapping;
  }

  /** A non-scoring clause as a predicate. */
  filter(clause: unknown): (doc: StoredDoc) => boolean {
    const [kind, body] = single(clause, 'query');
    switch (kind) {
      case 'match_all':
        if (!isObject(body) || Object.keys(body).length > 0) throw parsingError('[match_all] takes no parameters here');
        return () => true;
      case 'term': {
        const [field, spec] = single(body, 'term');
        this.field(field, 'term', ['keyword', 'boolean', 'long', 'integer']);
        let value = spec;
        if (isObject(spec)) {
          onlyKeys(spec, ['value'], 'term');
          value = spec.value;
        }
        if (!['string', 'number', 'boolean'].includes(typeof value)) throw parsingError('[term] value must be a string, number or boolean');
        return (doc) => asArray(doc.source[field]).some((v) => v === value);
      }
      case 'terms': {
        if (!isObject(body)) throw parsingError('[terms] expected an object');
        const entries = Object.entries(body).filter(([key]) => key !== 'boost');
        if (entries.length !== 1) throw parsingError('[terms] expected exactly one field');
        const [field, values] = entries[0]!;
        this.field(field, 'terms', ['keyword', 'boolean', 'long', 'integer']);
        if (!Array.isArray(values)) throw parsingError('[terms] values must be an array (terms lookup is not supported)');
        const set = new Set(values);
        return (doc) => asArray(doc.source[field]).some((v) => set.has(v));
      }
      case 'range': {
        const [field, spec] = single(body, 'range');
        const mapping = this.field(field, 'range', ['date', 'long', 'integer', 'float', 'double']);
        if (!isObject(spec)) throw parsingError('[range] expected an object');
        onlyKeys(spec, ['gte', 'gt', 'lte', 'lt'], 'range');
        const toNumber = (value: unknown): number => {
          const n = mapping.type === 'date' ? (typeof value === 'number' ? value : Date.parse(String(value))) : Number(value);
          if (Number.isNaN(n)) throw bad(`failed to parse [${String(value)}] for range on [${field}]`, 'parse_exception');
          return n;
        };
        const bounds = Object.entries(spec).map(([op, value]) => [op, toNumber(value)] as const);
        return (doc) => {
          const raw = doc.source[field];
          if (raw === null || raw === undefined) return false;
          const n = toNumber(raw);
          return bounds.every(([op, bound]) => (op === 'gte' ? n >= bound : op === 'gt' ? n > bound : op === 'lte' ? n <= bound : n < bound));
        };
      }
      case 'exists': {
        if (!isObject(body)) throw parsingError('[exists] expected an object');
        onlyKeys(body, ['field'], 'exists');
        const field = body.field as string;
        this.field(field, 'exists');
        return (doc) => doc.source[field] !== null && doc.source[field] !== undefined;
      }
      case 'bool': {
        if (!isObject(body)) throw parsingError('[bool] expected an object');
        onlyKeys(body, ['must', 'filter', 'must_not', 'should'], 'bool');
        const all = [...asArray(body.must), ...asArray(body.filter)].map((c) => this.filter(c));
        const none = asArray(body.must_not).map((c) => this.filter(c));
        const any = asArray(body.should).map((c) => this.filter(c));
        return (doc) => all.every((p) => p(doc)) && !none.some((p) => p(doc)) && (any.length === 0 || all.length > 0 || any.some((p) => p(doc)));
      }
      default:
        throw parsingError(`unknown query [${kind}] (stand-in subset)`);
    }
  }

  /** multi_match (best_fields) scored by BM25 over the accepted documents. */
  private multiMatch(body: unknown, accept: (doc: StoredDoc) => boolean): Map<StoredDoc, number> {
    if (!isObject(body)) throw parsingError('[multi_match] expected an object');
    onlyKeys(body, ['query', 'fields', 'type', 'tie_breaker', 'operator'], 'multi_match');
    if (typeof body.query !== 'string') throw parsingError('[multi_match] requires a string [query]');
    if (body.type !== undefined && body.type !== 'best_fields') throw parsingError(`[multi_match] type [${String(body.type)}] is not supported (stand-in subset)`);
    if (body.operator !== undefined && String(body.operator).toLowerCase() !== 'or') throw parsingError('[multi_match] operator must be "or" here');
    const tieBreaker = body.tie_breaker ?? 0;
    if (typeof tieBreaker !== 'number' || tieBreaker < 0 || tieBreaker > 1) throw parsingError('[multi_match] tie_breaker must be a number in [0, 1]');
    if (!Array.isArray(body.fields) || body.fields.length === 0) throw parsingError('[multi_match] requires [fields]');
    const boosts: Record<string, number> = {};
    for (const spec of body.fields) {
      const match = typeof spec === 'string' ? /^([A-Za-z0-9_.]+)(?:\^(\d+(?:\.\d+)?))?$/.exec(spec) : null;
      if (match === null) throw parsingError(`[multi_match] field [${String(spec)}] is not supported (no wildcards here)`);
      this.field(match[1], 'multi_match', ['text']);
      boosts[match[1]!] = match[2] === undefined ? 1 : Number(match[2]);
    }
    const hits = this.bm25.search(body.query, { limit: this.docs.size, accept, boosts, tieBreaker });
    return new Map(hits.map((h) => [h.key, h.score]));
  }

  private knn(body: unknown, accept: (doc: StoredDoc) => boolean): Map<StoredDoc, number> {
    const [field, spec] = single(body, 'knn');
    const mapping = this.field(field, 'knn', ['knn_vector']);
    if (!isObject(spec)) throw parsingError('[knn] expected an object');
    onlyKeys(spec, ['vector', 'k', 'filter'], 'knn');
    const vector = spec.vector;
    if (!Array.isArray(vector) || !vector.every((v) => typeof v === 'number')) throw parsingError('[knn] requires a numeric [vector]');
    if (vector.length !== mapping.dimension) throw bad(`query vector has invalid dimension: ${vector.length}. Dimension should be: ${mapping.dimension}`);
    if (!Number.isInteger(spec.k) || (spec.k as number) < 1) throw bad('[knn] requires a positive integer [k]');
    const inner = spec.filter === undefined ? () => true : this.filter(spec.filter);
    const hits = this.vectors.get(field)!.search(normalize(vector as number[]), {
      limit: spec.k as number,
      accept: (doc) => accept(doc) && inner(doc),
    });
    // Lucene's cosine score.
    return new Map(hits.map((h) => [h.key, (1 + h.score) / 2]));
  }

  /** A scoring query's matches and scores, within `scope` (routing). */
  evaluate(query: unknown, scope: (doc: StoredDoc) => boolean): Map<StoredDoc, number> {
    if (query === undefined) return new Map([...this.docs.values()].filter(scope).map((d) => [d, 1]));
    const [kind, body] = single(query, 'query');
    if (kind === 'multi_match') return this.multiMatch(body, scope);
    if (kind === 'knn') return this.knn(body, scope);
    if (kind === 'bool' && isObject(body) && asArray(body.must).some((c) => isObject(c) && ('multi_match' in c || 'knn' in c))) {
      onlyKeys(body, ['must', 'filter', 'must_not'], 'bool');
      const must = asArray(body.must);
      const rest = this.filter({ bool: { filter: asArray(body.filter), must_not: asArray(body.must_not) } });
      const accept = (doc: StoredDoc) => scope(doc) && rest(doc);
      // Every must clause has to match; their scores add up.
      const parts = must.map((clause) => {
        const [clauseKind, clauseBody] = single(clause, 'must');
        if (clauseKind !== 'multi_match' && clauseKind !== 'knn') throw parsingError(`scoring [${clauseKind}] inside bool.must is not supported (stand-in subset)`);
        return clauseKind === 'multi_match' ? this.multiMatch(clauseBody, accept) : this.knn(clauseBody, accept);
      });
      const [first, ...others] = parts as [Map<StoredDoc, number>, ...Array<Map<StoredDoc, number>>];
      const scores = new Map<StoredDoc, number>();
      for (const [doc, score] of first) {
        if (others.every((part) => part.has(doc))) scores.set(doc, others.reduce((sum, part) => sum + part.get(doc)!, score));
      }
      return scores;
    }
    // Filter-only queries score every match 1 (constant score).
    const predicate = this.filter(query);
    return new Map([...this.docs.values()].filter((d) => scope(d) && predicate(d)).map((d) => [d, 1]));
  }
}

const SEARCH_BODY_KEYS = ['size', 'query', '_source', 'from', 'track_total_hits'];

function sourceFilter(spec: unknown): (source: Json) => Json {
  if (spec === undefined || spec === true) return (s) => s;
  if (spec === false) return () => ({});
  const includes = Array.isArray(spec) ? spec : isObject(spec) ? asArray(spec.includes) : null;
  const excludes = isObject(spec) ? asArray(spec.excludes) : [];
  if (includes === null || isObject(spec) && Object.keys(spec).some((k) => k !== 'includes' && k !== 'excludes')) {
    throw parsingError('[_source] must be a boolean, a list of fields, or {includes, excludes}');
  }
  if ([...includes, ...excludes].some((f) => typeof f !== 'string' || f.includes('*'))) throw parsingError('[_source] patterns are not supported (stand-in subset)');
  return (source) => Object.fromEntries(Object.entries(source).filter(([k]) => (includes.length === 0 || includes.includes(k)) && !excludes.includes(k)));
}

function globMatch(pattern: string, name: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return regex.test(name);
}

const VALID_INDEX_NAME = /^[a-z0-9][a-z0-9._-]*$/;
const BULK_PARAMS = ['refresh', 'routing', 'timeout', 'wait_for_active_shards'];
const REFRESH_VALUES = ['', 'true', 'false', 'wait_for'];

export async function startOpenSearchStandIn(options: OpenSearchStandInOptions = {}): Promise<OpenSearchStandIn> {
  const defaultShards = options.shards ?? 2;
  const indices = new Map<string, StandInIndex>();
  const templates = new Map<string, { patterns: string[]; priority: number; template: Json }>();
  const requests: RecordedRequest[] = [];
  const faults: Array<Required<Omit<FaultOptions, 'match'>> & { match: FaultOptions['match'] }> = [];

  const checkParams = (query: Record<string, string>, allowed: readonly string[], path: string) => {
    for (const key of Object.keys(query)) {
      if (!allowed.includes(key)) throw bad(`request [${path}] contains unrecognized parameter: [${key}]`);
    }
  };

  const indexOrThrow = (name: string): StandInIndex => {
    const found = indices.get(name);
    if (found === undefined) throw new ApiError(404, 'index_not_found_exception', `no such index [${name}]`);
    return found;
  };

  function createIndex(name: string, body: unknown): StandInIndex {
    if (!VALID_INDEX_NAME.test(name)) throw bad(`invalid index name [${name}]`, 'invalid_index_name_exception');
    if (indices.has(name)) throw new ApiError(400, 'resource_already_exists_exception', `index [${name}] already exists`);
    const request = body === undefined ? {} : body;
    if (!isObject(request)) throw parsingError('index creation body must be an object');
    onlyKeys(request, ['settings', 'mappings', 'aliases'], 'create index');
    // Like OpenSearch: the highest-priority matching template, then the request's own definitions on top.
    const template = [...templates.values()].filter((t) => t.patterns.some((p) => globMatch(p, name))).sort((a, b) => b.priority - a.priority)[0];
    const settings = { ...flattenSettings(template?.template.settings), ...flattenSettings(request.settings) };
    const base = isObject(template?.template.mappings) ? template.template.mappings : {};
    const own = isObject(request.mappings) ? request.mappings : {};
    const mappings: Json = {
      ...base,
      ...own,
      properties: { ...(isObject(base.properties) ? base.properties : {}), ...(isObject(own.properties) ? own.properties : {}) },
    };
    const index = new StandInIndex(name, mappings, settings, defaultShards);
    indices.set(name, index);
    return index;
  }

  function bulk(pathIndex: string | undefined, query: Record<string, string>, lines: unknown[]): Json {
    checkParams(query, BULK_PARAMS, '_bulk');
    if (query.refresh !== undefined && !REFRESH_VALUES.includes(query.refresh)) throw bad(`unknown refresh value [${query.refresh}]`);
    const items: Json[] = [];
    let errors = false;
    for (let i = 0; i < lines.length; i++) {
      const [action, meta] = single(lines[i], 'bulk action');
      if (action !== 'index' && action !== 'delete') throw bad(`stand-in supports bulk index and delete only, got [${action}]`);
      if (!isObject(meta)) throw parsingError('bulk action metadata must be an object');
      onlyKeys(meta, ['_index', '_id', 'routing'], `bulk ${action}`);
      const name = (meta._index as string | undefined) ?? pathIndex;
      if (name === undefined) throw bad('bulk action without an index', 'action_request_validation_exception');
      const routing = (meta.routing as string | undefined) ?? query.routing ?? null;
      const id = meta._id === undefined ? undefined : String(meta._id);
      const source = action === 'index' ? lines[++i] : undefined;
      if (action === 'index' && source === undefined) throw bad('bulk index action without a document', 'action_request_validation_exception');
      try {
        let index = indices.get(name);
        // OpenSearch auto-creates a missing index on write; without a matching template it would map
        // fields dynamically, which this stand-in does not do.
        if (index === undefined) {
          if (![...templates.values()].some((t) => t.patterns.some((p) => globMatch(p, name)))) throw new ApiError(404, 'index_not_found_exception', `no such index [${name}]`);
          index = createIndex(name, undefined);
        }
        if (action === 'index') {
          const { id: docId, created } = index.index(id, routing, source);
          items.push({ index: { _index: name, _id: docId, result: created ? 'created' : 'updated', status: created ? 201 : 200, _routing: routing } });
        } else {
          if (id === undefined) throw bad('delete requires an _id', 'action_request_validation_exception');
          if (index.routingRequired && routing === null) throw new ApiError(400, 'routing_missing_exception', `routing is required for [${name}]`);
          const doc = index.docs.get(id);
          const found = doc !== undefined && (routing === null || doc.shard === shardOf(routing, index.shards));
          if (found) index.delete(id);
          items.push({ delete: { _index: name, _id: id, result: found ? 'deleted' : 'not_found', status: found ? 200 : 404 } });
        }
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        errors = true;
        items.push({ [action]: { _index: name, _id: id ?? null, status: error.status, error: { type: error.type, reason: error.message } } });
      }
    }
    return { took: 1, errors, items };
  }

  function search(index: StandInIndex, routing: string | undefined, body: unknown): Json {
    if (!isObject(body)) throw parsingError('search body must be an object');
    onlyKeys(body, SEARCH_BODY_KEYS, 'search');
    const size = body.size ?? 10;
    const from = body.from ?? 0;
    if (!Number.isInteger(size) || (size as number) < 0 || !Number.isInteger(from) || (from as number) < 0) throw parsingError('[size] and [from] must be non-negative integers');
    const project = sourceFilter(body._source);
    const scored = [...index.evaluate(body.query, index.shardFilter(routing))].sort((a, b) => b[1] - a[1] || (a[0].id < b[0].id ? -1 : 1));
    const page = scored.slice(from as number, (from as number) + (size as number));
    return {
      took: 1,
      timed_out: false,
      hits: {
        total: { value: scored.length, relation: 'eq' },
        max_score: scored[0]?.[1] ?? null,
        hits: page.map(([doc, score]) => ({ _index: index.name, _id: doc.id, _score: score, _routing: doc.routing ?? undefined, _source: project(doc.source) })),
      },
    };
  }

  function msearch(pathIndex: string | undefined, query: Record<string, string>, lines: unknown[]): Json {
    checkParams(query, ['max_concurrent_searches', 'rest_total_hits_as_int', 'typed_keys'], '_msearch');
    if (lines.length % 2 !== 0) throw bad('msearch body must be header/body pairs', 'action_request_validation_exception');
    const responses: Json[] = [];
    for (let i = 0; i < lines.length; i += 2) {
      const header = lines[i];
      if (!isObject(header)) throw parsingError('msearch header must be an object');
      onlyKeys(header, ['index', 'routing', 'preference'], 'msearch header');
      try {
        const name = (header.index as string | undefined) ?? pathIndex;
        if (name === undefined) throw bad('msearch request without an index');
        const index = indexOrThrow(name);
        responses.push({ ...search(index, header.routing as string | undefined, lines[i + 1]), status: 200 });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        responses.push({ error: { type: error.type, reason: error.message, root_cause: [{ type: error.type, reason: error.message }] }, status: error.status });
      }
    }
    return { took: 1, responses };
  }

  function queryOf(body: unknown, name: string): unknown {
    if (body === undefined) return undefined;
    if (!isObject(body)) throw parsingError(`${name} body must be an object`);
    onlyKeys(body, ['query'], name);
    return body.query;
  }

  function route(method: string, parts: string[], query: Record<string, string>, body: unknown, path: string): { status: number; body?: unknown } {
    const [first, second] = parts;
    if (parts.length === 0 && (method === 'GET' || method === 'HEAD')) {
      return { status: 200, body: { name: 'stand-in', cluster_name: 'pai-stand-in', version: { distribution: 'opensearch', number: '2.19.0' }, tagline: 'The OpenSearch Project: https://opensearch.org/' } };
    }
    if (first === '_index_template' && second !== undefined && parts.length === 2 && (method === 'PUT' || method === 'POST')) {
      checkParams(query, ['create', 'cluster_manager_timeout', 'master_timeout'], path);
      if (!isObject(body)) throw parsingError('index template body must be an object');
      onlyKeys(body, ['index_patterns', 'template', 'priority', 'version', '_meta', 'composed_of'], 'index template');
      if (asArray(body.composed_of).length > 0) throw bad('component templates are not supported by the stand-in');
      const patterns = asArray(body.index_patterns);
      if (patterns.length === 0 || !patterns.every((p) => typeof p === 'string')) throw bad('[index_patterns] is required', 'action_request_validation_exception');
      const template = body.template ?? {};
      if (!isObject(template)) throw parsingError('[template] must be an object');
      onlyKeys(template, ['settings', 'mappings', 'aliases'], 'template');
      // Validate now, as OpenSearch does, by building a throwaway index from it.
      new StandInIndex('template-check', isObject(template.mappings) ? template.mappings : {}, flattenSettings(template.settings), defaultShards);
      if (truthy(query.create) && templates.has(second)) throw bad(`index template [${second}] already exists`);
      templates.set(second, { patterns: patterns as string[], priority: Number(body.priority ?? 0), template });
      return { status: 200, body: { acknowledged: true } };
    }
    if (first === '_bulk' && parts.length === 1 && (method === 'POST' || method === 'PUT')) {
      return { status: 200, body: bulk(undefined, query, body as unknown[]) };
    }
    if (first === '_msearch' && parts.length === 1 && (method === 'POST' || method === 'GET')) {
      return { status: 200, body: msearch(undefined, query, body as unknown[]) };
    }
    if (first !== undefined && !first.startsWith('_') && parts.length === 1) {
      if (method === 'HEAD') return { status: indices.has(first) ? 200 : 404 };
      if (method === 'PUT') {
        checkParams(query, ['wait_for_active_shards', 'timeout', 'cluster_manager_timeout', 'master_timeout'], path);
        createIndex(first, body);
        return { status: 200, body: { acknowledged: true, shards_acknowledged: true, index: first } };
      }
      if (method === 'DELETE') {
        indexOrThrow(first);
        indices.delete(first);
        return { status: 200, body: { acknowledged: true } };
      }
    }
    if (first !== undefined && !first.startsWith('_') && parts.length === 2) {
      if (second === '_bulk' && (method === 'POST' || method === 'PUT')) return { status: 200, body: bulk(first, query, body as unknown[]) };
      if (second === '_msearch' && (method === 'POST' || method === 'GET')) return { status: 200, body: msearch(first, query, body as unknown[]) };
      if (second === '_refresh' && (method === 'POST' || method === 'GET')) {
        indexOrThrow(first);
        return { status: 200, body: { _shards: { total: 1, successful: 1, failed: 0 } } };
      }
      if (second === '_count' && (method === 'POST' || method === 'GET')) {
        checkParams(query, ['routing'], path);
        const index = indexOrThrow(first);
        const matches = index.evaluate(queryOf(body, 'count'), index.shardFilter(query.routing));
        return { status: 200, body: { count: matches.size, _shards: { total: index.shards, successful: index.shards, skipped: 0, failed: 0 } } };
      }
      if (second === '_delete_by_query' && method === 'POST') {
        checkParams(query, ['routing', 'refresh', 'conflicts', 'wait_for_completion', 'slices'], path);
        if (query.refresh !== undefined && !['', 'true', 'false'].includes(query.refresh)) throw bad(`[refresh] must be a boolean here, got [${query.refresh}]`);
        if (query.conflicts !== undefined && !['abort', 'proceed'].includes(query.conflicts)) throw bad(`unknown conflicts value [${query.conflicts}]`);
        const index = indexOrThrow(first);
        const q = queryOf(body, 'delete_by_query');
        if (q === undefined) throw bad('delete_by_query requires a query', 'action_request_validation_exception');
        const matches = [...index.evaluate(q, index.shardFilter(query.routing)).keys()];
        for (const doc of matches) index.delete(doc.id);
        return {
          status: 200,
          body: { took: 1, timed_out: false, total: matches.length, deleted: matches.length, batches: 1, version_conflicts: 0, noops: 0, failures: [] },
        };
      }
    }
    throw bad(`stand-in does not support ${method} ${path}`);
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  }

  function send(res: ServerResponse, status: number, body: unknown, head: boolean): void {
    const text = body === undefined || head ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const method = req.method ?? 'GET';
      const path = url.pathname;
      const query = Object.fromEntries(url.searchParams);
      const raw = await readBody(req);
      const ndjson = /\/_(bulk|msearch)$/.test(path);
      let body: unknown;
      let parseError: string | null = null;
      try {
        if (ndjson) body = raw.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as unknown);
        else body = raw.trim() === '' ? undefined : JSON.parse(raw);
      } catch {
        parseError = 'request body is not valid JSON';
      }
      const recorded: RecordedRequest = { method, path, query, body };
      requests.push(recorded);
      const head = method === 'HEAD';
      const fault = faults.find((f) => f.match === undefined || f.match(recorded));
      if (fault !== undefined) {
        if (--fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
        send(res, fault.status, { error: { type: fault.type, reason: fault.reason, root_cause: [{ type: fault.type, reason: fault.reason }] }, status: fault.status }, head);
        return;
      }
      if (parseError !== null) {
        send(res, 400, { error: { type: 'parse_exception', reason: parseError }, status: 400 }, head);
        return;
      }
      try {
        const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
        const answer = route(method, parts, query, body, path);
        send(res, answer.status, answer.body, head);
      } catch (error) {
        const e = error instanceof ApiError ? error : new ApiError(500, 'exception', error instanceof Error ? error.message : String(error));
        send(res, e.status, { error: { type: e.type, reason: e.message, root_cause: [{ type: e.type, reason: e.message }] }, status: e.status }, head);
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    clearRequests() {
      requests.length = 0;
    },
    failNext(fault = {}) {
      faults.push({ status: fault.status ?? 500, type: fault.type ?? 'internal_server_error', reason: fault.reason ?? 'injected fault', times: fault.times ?? 1, match: fault.match });
    },
    documents(name) {
      const index = indices.get(name);
      return index === undefined ? [] : [...index.docs.values()].map(({ id, routing, shard, source }) => ({ id, routing, shard, source }));
    },
    indexDefinition(name) {
      const index = indices.get(name);
      return index === undefined ? undefined : { mappings: index.mappings, settings: index.settings };
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
