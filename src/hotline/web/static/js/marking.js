// Classification markings: portion marks on each message, banners at the top and bottom of the
// page with the highest classification on screen and the releasability of everything on it.
// Markings are the standard English forms in every language (they are what the record says).

export const LEVELS = ["unclassified", "confidential", "secret", "top_secret"];
const ABBREVIATION = { unclassified: "U", confidential: "C", secret: "S", top_secret: "TS" };

export function level(classification) {
  const i = LEVELS.indexOf(classification);
  return i < 0 ? 0 : i;
}

export function word(classification) {
  return classification.replace("_", " ").toUpperCase();
}

/** The portion mark of one message: "(U)", "(S//REL TO USA, JPN, KOR)". */
export function portionMark(item) {
  const abbr = ABBREVIATION[item.classification] || "U";
  if (level(item.classification) === 0) return `(${abbr})`;
  return `(${abbr}//REL TO ${item.rel_to.join(", ")})`;
}

/** The class that colours a portion mark by its level. */
export function portionClass(item) {
  return ["portion", `pm-${LEVELS[level(item.classification)]}`];
}

/**
 * The banner for everything on screen: the highest classification, released only to the
 * nations every classified item on screen is releasable to (in the order the items list them).
 * Items are {classification, rel_to}. Nothing classified on screen: UNCLASSIFIED.
 */
export function banner(items) {
  let top = "unclassified";
  let relTo = null;
  for (const item of items) {
    if (!item || level(item.classification) === 0) continue;
    if (level(item.classification) > level(top)) top = item.classification;
    relTo = relTo === null ? [...item.rel_to] : relTo.filter((n) => item.rel_to.includes(n));
  }
  if (level(top) === 0) return { classification: top, text: "UNCLASSIFIED" };
  return { classification: top, text: `${word(top)}//REL TO ${(relTo || []).join(", ")}` };
}
