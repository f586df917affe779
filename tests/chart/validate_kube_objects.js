// Validates Kubernetes objects against the API's OpenAPI schemas (kubernetes-models, offline),
// strictly: besides kubernetes-models' own checks (types, required fields, enums), every field of
// every object must be one the schema of its kind knows, as the API server's strict field
// validation has it (kubectl apply --validate=strict).
//   node validate_kube_objects.js TOOLS_DIR OBJECTS.json
// OBJECTS.json is a JSON array of objects. Prints one line per object ("ok KIND NAME" or
// "invalid KIND NAME: reasons") and exits 1 when any object is invalid or of an unknown kind:
// every object the chart renders must be checked.
//
// kubernetes-models ships its schemas compiled into ajv validators, without additionalProperties
// (unknown fields pass) and without the JSON schemas themselves. So the validator is run on a
// watched copy of the object: a compiled validator reads exactly the properties its schema
// declares (present or not) and enumerates the keys of maps (labels, data, ...). A key it never
// read on an object it did read is unknown to the schema; an object none of whose keys it looked
// at has no schema for its fields, which is reported too (no object the chart renders may hide
// fields from the check).
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const [toolsDir, objectsFile] = process.argv.slice(2);
const load = createRequire(path.join(path.resolve(toolsDir), "package.json"));

// apiVersion -> the module that defines its kinds. Core and built-in groups come from
// kubernetes-models; cert-manager and prometheus-operator from their model packages.
function modelModule(apiVersion) {
  const candidates = [
    "kubernetes-models/" + apiVersion,
    "@kubernetes-models/cert-manager/" + apiVersion,
    "@kubernetes-models/prometheus-operator/" + apiVersion,
  ];
  for (const name of candidates) {
    try {
      return load(name);
    } catch (e) {
      if (e.code !== "MODULE_NOT_FOUND" && e.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw e;
    }
  }
  return null;
}

// A deep copy of value in which every object is a Proxy that records which of its keys were
// read and whether its keys were enumerated. nodes receives one record per object.
function watch(value, nodes, where) {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v, i) => watch(v, nodes, `${where}[${i}]`));
  const node = { where, keys: Object.keys(value), read: new Set(), enumerated: false };
  nodes.push(node);
  const copy = {};
  for (const key of node.keys) copy[key] = watch(value[key], nodes, where ? `${where}.${key}` : key);
  const record = (key) => typeof key === "string" && node.read.add(key);
  return new Proxy(copy, {
    get: (target, key, receiver) => (record(key), Reflect.get(target, key, receiver)),
    has: (target, key) => (record(key), Reflect.has(target, key)),
    getOwnPropertyDescriptor: (target, key) => (record(key), Reflect.getOwnPropertyDescriptor(target, key)),
    ownKeys: (target) => ((node.enumerated = true), Reflect.ownKeys(target)),
  });
}

// Runs validate (a compiled kubernetes-models validator, called with the object as `this`) on a
// watched copy of object. Returns the problems: the validator's error message, then the fields
// the schema does not know. skip(where) says which objects another check covers.
function strictProblems(validate, object, skip = () => false) {
  const problems = [];
  const nodes = [];
  try {
    validate.call(watch(object, nodes, ""));
  } catch (e) {
    problems.push(e.message);
  }
  // Parents come before their children in nodes; in an unknown field everything is unknown.
  const unknown = [];
  const belowUnknown = (where) =>
    unknown.some((u) => where === u || where.startsWith(u + ".") || where.startsWith(u + "["));
  for (const node of nodes) {
    if (node.enumerated || node.keys.length === 0 || skip(node.where) || belowUnknown(node.where)) continue;
    const name = (key) => (node.where ? `${node.where}.${key}` : key);
    if (node.read.size === 0) {
      problems.push(`no schema checks the fields of ${node.where || "the object"} (${node.keys.join(", ")})`);
      continue;
    }
    for (const key of node.keys.filter((k) => !node.read.has(k))) {
      problems.push(`unknown field ${name(key)}`);
      unknown.push(name(key));
    }
  }
  return problems;
}

// A CustomResourceDefinition's openAPIV3Schema is a tree of JSONSchemaProps, which kubernetes-models
// compiles with holes: its `items` accepts any object, and the fields named `description` and
// `x-kubernetes-*` are missing (its generator drops those keys from every schema). The tree is
// walked here instead, with the fields the compiled JSONSchemaProps validator reads plus the missing
// ones (apiextensions.k8s.io/v1 JSONSchemaProps).
const SCHEMA_PROPS_FIELDS_NOT_COMPILED = [
  "description",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-int-or-string",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-list-type",
  "x-kubernetes-map-type",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-validations",
];
let schemaPropsFields = null;

function knownSchemaPropsFields() {
  if (!schemaPropsFields) {
    const { JSONSchemaProps } = load("kubernetes-models/apiextensions.k8s.io/v1");
    const nodes = [];
    try {
      JSONSchemaProps.prototype.validate.call(watch({}, nodes, ""));
    } catch (e) {
      // Only the fields read matter here.
    }
    schemaPropsFields = new Set([...nodes[0].read, ...SCHEMA_PROPS_FIELDS_NOT_COMPILED]);
    for (const field of ["type", "properties", "items", "required"]) {
      if (!schemaPropsFields.has(field)) throw new Error(`JSONSchemaProps has no ${field}: is this kubernetes-models?`);
    }
  }
  return schemaPropsFields;
}

function schemaPropsProblems(schema, where, problems) {
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return;
  const known = knownSchemaPropsFields();
  for (const key of Object.keys(schema)) {
    if (!known.has(key)) problems.push(`unknown field ${where}.${key}`);
  }
  // Sub-schemas; default, example and enum hold data, not schemas.
  const subSchemaMaps = ["properties", "patternProperties", "definitions"];
  for (const field of subSchemaMaps) {
    for (const [key, sub] of Object.entries(schema[field] || {})) {
      schemaPropsProblems(sub, `${where}.${field}.${key}`, problems);
    }
  }
  for (const field of ["items", "additionalProperties", "additionalItems", "not"]) {
    const sub = schema[field];
    if (Array.isArray(sub)) sub.forEach((s, i) => schemaPropsProblems(s, `${where}.${field}[${i}]`, problems));
    else schemaPropsProblems(sub, `${where}.${field}`, problems);
  }
  for (const field of ["allOf", "anyOf", "oneOf"]) {
    (schema[field] || []).forEach((s, i) => schemaPropsProblems(s, `${where}.${field}[${i}]`, problems));
  }
}

function problemsOf(Model, object) {
  if (object.kind !== "CustomResourceDefinition") return strictProblems(Model.prototype.validate, object);
  const inSchema = /^spec\.versions\[\d+\]\.schema\.openAPIV3Schema(\.|$)/;
  const problems = strictProblems(Model.prototype.validate, object, (where) => inSchema.test(where));
  ((object.spec || {}).versions || []).forEach((version, i) => {
    const where = `spec.versions[${i}].schema.openAPIV3Schema`;
    schemaPropsProblems(((version || {}).schema || {}).openAPIV3Schema, where, problems);
  });
  return problems;
}

let failed = 0;
for (const object of JSON.parse(fs.readFileSync(objectsFile, "utf8"))) {
  const label = `${object.apiVersion}/${object.kind} ${(object.metadata || {}).name}`;
  const models = object.apiVersion ? modelModule(object.apiVersion) : null;
  const Model = models && models[object.kind];
  if (!Model) {
    console.log(`invalid ${label}: no schema known for this kind`);
    failed++;
    continue;
  }
  const problems = problemsOf(Model, object);
  if (problems.length === 0) {
    console.log(`ok ${label}`);
  } else {
    console.log(`invalid ${label}: ${problems.join("; ")}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
