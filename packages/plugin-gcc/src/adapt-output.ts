import type { AdaptOutputInput } from "@reprise/core";
import { rewriteDepTargets } from "./dep-target.js";
import type { GccLikeDialect } from "./dialect.js";

/** `adaptOutput` of gcc-like families: a stored dependency file gets this call's targets, laid out as the compiler would. */
export function adaptGccLikeOutput(input: AdaptOutputInput, dialect: GccLikeDialect): Buffer | null {
  const targets = input.output.adapt?.depTargets;
  if (input.output.role !== "dep" || !Array.isArray(targets) || !targets.every((t) => typeof t === "string")) return null;
  // Written for these very targets (the common rebuild): the compiler's layout of the rest is the same, so are the bytes.
  const unchanged = Buffer.from(`${(targets as string[]).join(" ")}:`, "latin1");
  if (input.data.subarray(0, unchanged.length).equals(unchanged)) return input.data;
  // latin1 maps every byte to one character and back: paths in any encoding survive.
  const text = rewriteDepTargets(input.data.toString("latin1"), targets as string[], dialect.depRuleLayout);
  return text === undefined ? null : Buffer.from(text, "latin1");
}
