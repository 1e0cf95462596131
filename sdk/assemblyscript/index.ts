// The package's entry, where the compiler looks for it: the API.
export * from "./assembly/index";
