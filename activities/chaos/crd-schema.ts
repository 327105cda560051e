import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

/** The subset of OpenAPI v3 (Kubernetes structural schema) that CRDs use. */
export interface OpenApiSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  nullable?: boolean;
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: boolean | OpenApiSchema;
  required?: string[];
  items?: OpenApiSchema;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  anyOf?: OpenApiSchema[];
  allOf?: OpenApiSchema[];
  oneOf?: OpenApiSchema[];
  not?: OpenApiSchema;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  [key: string]: unknown;
}

/** kind → openAPIV3Schema of its first (only) version, from a multi-document CRD bundle. */
export function loadCrdSchemas(path: string): Map<string, OpenApiSchema> {
  const out = new Map<string, OpenApiSchema>();
  for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
    const crd = doc.toJS() as {
      kind?: string;
      spec?: { names?: { kind?: string }; versions?: { schema?: { openAPIV3Schema?: OpenApiSchema } }[] };
    } | null;
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    const kind = crd.spec?.names?.kind;
    const schema = crd.spec?.versions?.[0]?.schema?.openAPIV3Schema;
    if (kind && schema) out.set(kind, schema);
  }
  return out;
}

const INT_RANGES: Record<string, [number, number]> = {
  int32: [-2147483648, 2147483647],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/**
 * Validates a value against a CRD schema; returns "path: problem" lines (empty = valid). Unknown fields are
 * errors where the schema lists properties and does not preserve unknown fields — stricter than the API
 * server's pruning, so a typo in a generated object fails the test instead of vanishing silently.
 * Boolean `exclusiveMinimum`/`exclusiveMaximum` (Draft 4 style, used by Schedule) are honoured.
 */
export function validateSchema(value: unknown, schema: OpenApiSchema, path = ''): string[] {
  const at = path || '(root)';
  const errs: string[] = [];
  if (value === null || value === undefined) {
    if (value === null && !schema.nullable) errs.push(`${at}: must not be null`);
    return errs;
  }
  if (schema.allOf) for (const s of schema.allOf) errs.push(...validateSchema(value, s, path));
  if (schema.anyOf && !schema.anyOf.some((s) => validateSchema(value, s, path).length === 0)) {
    errs.push(`${at}: matches none of anyOf`);
  }
  if (schema.oneOf && schema.oneOf.filter((s) => validateSchema(value, s, path).length === 0).length !== 1) {
    errs.push(`${at}: must match exactly one of oneOf`);
  }
  if (schema.not && validateSchema(value, schema.not, path).length === 0) errs.push(`${at}: must not match "not"`);

  const t = typeOf(value);
  if (schema['x-kubernetes-int-or-string']) {
    if (t !== 'integer' && t !== 'string') errs.push(`${at}: must be an integer or a string, got ${t}`);
  } else if (schema.type) {
    const ok = schema.type === 'number' ? t === 'number' || t === 'integer' : t === schema.type;
    if (!ok) {
      errs.push(`${at}: must be ${schema.type}, got ${t}`);
      return errs;
    }
  }
  if (schema.enum && !schema.enum.some((e) => e === value)) {
    errs.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (typeof value === 'string') {
    if (schema.pattern && !new RegExp(schema.pattern).test(value))
      errs.push(`${at}: "${value}" does not match ${schema.pattern}`);
    if (schema.minLength !== undefined && value.length < schema.minLength)
      errs.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      errs.push(`${at}: longer than ${schema.maxLength}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum)) {
      errs.push(
        `${at}: ${value} is below the minimum ${schema.exclusiveMinimum ? '(exclusive) ' : ''}${schema.minimum}`,
      );
    }
    if (schema.maximum !== undefined && (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum)) {
      errs.push(
        `${at}: ${value} is above the maximum ${schema.exclusiveMaximum ? '(exclusive) ' : ''}${schema.maximum}`,
      );
    }
    const range = schema.format ? INT_RANGES[schema.format] : undefined;
    if (range && (value < range[0] || value > range[1])) errs.push(`${at}: ${value} is out of ${schema.format} range`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      errs.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      errs.push(`${at}: more than ${schema.maxItems} items`);
    if (schema.items)
      value.forEach((v, i) => errs.push(...validateSchema(v, schema.items as OpenApiSchema, `${path}[${i}]`)));
  }
  if (t === 'object') {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? [])
      if (obj[r] === undefined) errs.push(`${path ? `${path}.` : ''}${r}: required`);
    const keys = Object.keys(obj);
    if (schema.minProperties !== undefined && keys.length < schema.minProperties)
      errs.push(`${at}: fewer than ${schema.minProperties} properties`);
    if (schema.maxProperties !== undefined && keys.length > schema.maxProperties)
      errs.push(`${at}: more than ${schema.maxProperties} properties`);
    for (const k of keys) {
      const sub = `${path ? `${path}.` : ''}${k}`;
      const prop = schema.properties?.[k];
      if (prop) errs.push(...validateSchema(obj[k], prop, sub));
      else if (typeof schema.additionalProperties === 'object')
        errs.push(...validateSchema(obj[k], schema.additionalProperties, sub));
      else if (schema.additionalProperties === false) errs.push(`${sub}: unknown field`);
      else if (
        schema.properties &&
        !schema['x-kubernetes-preserve-unknown-fields'] &&
        schema.additionalProperties !== true
      ) {
        errs.push(`${sub}: unknown field`);
      }
    }
  }
  return errs;
}

/** Validates a custom object (apiVersion/kind/metadata/spec) against its kind's schema from the bundle. */
export function validateChaosObject(obj: { kind?: unknown }, schemas: Map<string, OpenApiSchema>): string[] {
  const kind = typeof obj.kind === 'string' ? obj.kind : '';
  const schema = schemas.get(kind);
  if (!schema) return [`kind "${kind}" is not defined in the CRD bundle`];
  return validateSchema(obj, schema);
}
