import { z } from "zod";

/**
 * The user's interests: app-owned profile data (never sent to Clerk, never written by sync).
 * Shared by the profile form (inline errors) and the `profile.updateInterests` procedure.
 */
export const interestLimits = { maxTags: 10, maxTagLength: 32 } as const;

// Letters and digits of any script, spaces and a few joiners ("c++", "c#", "node.js", "rock & roll").
const tagPattern = /^[\p{L}\p{N}][\p{L}\p{N} ._+#&'-]*$/u;

const tag = z
  .string()
  .transform((value) => value.trim().replace(/\s+/g, " "))
  .pipe(
    z
      .string()
      .min(1, { error: "An interest cannot be empty." })
      .max(interestLimits.maxTagLength, { error: `An interest can be at most ${interestLimits.maxTagLength} characters long.` })
      .regex(tagPattern, { error: "An interest can hold letters, numbers, spaces and . _ + # & ' - only." }),
  );

/** Trimmed, deduplicated without regard to case (the first spelling wins), at most 10. */
export const interestsSchema = z
  .array(tag)
  .transform((tags) => {
    const seen = new Set<string>();
    return tags.filter((value) => {
      const key = value.toLocaleLowerCase("en");
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  })
  .pipe(z.array(z.string()).max(interestLimits.maxTags, { error: `Choose at most ${interestLimits.maxTags} interests.` }));

/** Splits what the user typed ("climbing, jazz, rust") into tags. */
export function parseInterests(text: string): string[] {
  return text
    .split(",")
    .map((value) => value.trim())
    .filter((value) => value !== "");
}
