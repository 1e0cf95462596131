// The module's exports, to re-export from a plugin's entry file:
// export * from "wasmgate-sdk/exports";
export * from "./assembly/exports";
