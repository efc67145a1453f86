import { CONFIG_SPEC, type FieldSpec } from './spec';

type JsonSchema = Record<string, unknown>;

function toSchema(spec: FieldSpec): JsonSchema {
  switch (spec.type) {
    case 'object':
      return {
        type: 'object',
        description: spec.description,
        additionalProperties: false,
        properties: Object.fromEntries(Object.entries(spec.fields).map(([k, v]) => [k, toSchema(v)])),
      };
    case 'integer':
    case 'number':
      return {
        type: spec.type,
        description: spec.description,
        ...(spec.default !== undefined && { default: spec.default }),
        ...(spec.min !== undefined && { minimum: spec.min }),
        ...(spec.max !== undefined && { maximum: spec.max }),
        ...(spec.type === 'number' && spec.exclusiveMin !== undefined && { exclusiveMinimum: spec.exclusiveMin }),
      };
    case 'boolean':
      return { type: 'boolean', description: spec.description, default: spec.default };
    case 'string':
      return {
        type: 'string',
        description: spec.description,
        ...(spec.default !== undefined && { default: spec.default }),
        ...(spec.enum && { enum: [...spec.enum] }),
        ...(spec.minLength && { minLength: spec.minLength }),
      };
    case 'integerArray':
      return {
        type: 'array',
        description: spec.description,
        default: spec.default,
        items: { type: 'integer', ...(spec.min !== undefined && { minimum: spec.min }) },
        ...(spec.minItems && { minItems: spec.minItems }),
      };
    case 'numberArray':
      return {
        type: 'array',
        description: spec.description,
        default: spec.default,
        items: { type: 'number', ...(spec.exclusiveMin !== undefined && { exclusiveMinimum: spec.exclusiveMin }) },
        ...(spec.minItems && { minItems: spec.minItems }),
      };
  }
}

/** The JSON Schema of the config (draft-07), derived from CONFIG_SPEC. */
export function configJsonSchema(): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'immiscible-config.schema.json',
    title: 'Immiscible Lab run config',
    ...toSchema(CONFIG_SPEC),
  };
}
