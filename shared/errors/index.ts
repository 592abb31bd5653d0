export { TopofleetError, isRetriable } from "./base.ts";
export * from "./domains.ts";
