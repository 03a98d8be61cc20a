/**
 * The one validation the profile form (in the browser, through `clerk-user-sync/client`) and
 * `user.updateProfile` (on the server) both run: names refuse invisible controls.
 */
import { describe, expect, it } from "vitest";

import { profileInputSchema as clientSchema } from "../client";
import { profileInputSchema as serverSchema } from "../server";

const invisible: [string, string][] = [
  ["U+2028 LINE SEPARATOR", "\u2028"],
  ["U+2029 PARAGRAPH SEPARATOR", "\u2029"],
  ["U+200E LEFT-TO-RIGHT MARK", "\u200e"],
  ["U+200F RIGHT-TO-LEFT MARK", "\u200f"],
  ["U+061C ARABIC LETTER MARK", "\u061c"],
  ["U+202E RIGHT-TO-LEFT OVERRIDE", "\u202e"],
  ["U+2067 RIGHT-TO-LEFT ISOLATE", "\u2067"],
  ["U+0085 NEXT LINE", "\u0085"],
  ["a newline", "\n"],
  ["a tab", "\t"],
  ["NUL", "\u0000"],
];

describe.each([
  ["client", clientSchema],
  ["server", serverSchema],
])("profile names (%s)", (_side, schema) => {
  it.each(invisible)("refuses %s inside a first or last name, as form_param_format_invalid on that field", (_name, character) => {
    for (const field of ["firstName", "lastName"] as const) {
      const parsed = schema().safeParse({ [field]: `Ada${character}Lovelace` });
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues).toEqual([
        expect.objectContaining({ path: [field], params: { code: "form_param_format_invalid" }, message: expect.stringContaining("control characters") as string }),
      ]);
    }
  });

  it("accepts names in any script, with spaces, apostrophes, hyphens and joiners that render visibly", () => {
    for (const name of ["Ada Lovelace", "Ōkubo Toshimichi", "محمد", "O'Brien-Smith", "Zoë", "👩‍💻 Grace", "Dvořák"]) {
      expect(schema().safeParse({ firstName: name }).success, name).toBe(true);
    }
  });
});
