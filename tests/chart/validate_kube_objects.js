// Validates Kubernetes objects against the API's OpenAPI schemas (kubernetes-models, offline).
//   node validate_kube_objects.js TOOLS_DIR OBJECTS.json
// OBJECTS.json is a JSON array of objects. Prints one line per object ("ok KIND NAME" or
// "invalid KIND NAME: reasons") and exits 1 when any object is invalid or of an unknown kind:
// every object the chart renders must be checked.
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
  try {
    new Model(object).validate();
    console.log(`ok ${label}`);
  } catch (e) {
    console.log(`invalid ${label}: ${e.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
