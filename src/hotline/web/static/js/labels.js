// Names of the public contract's values (API.md) as the console shows them.
import { N_, currentLanguage, t } from "./i18n.js";

export const PRECEDENCES = ["flash", "immediate", "priority", "routine"];
const PRECEDENCE_NAMES = {
  flash: N_("FLASH"),
  immediate: N_("IMMEDIATE"),
  priority: N_("PRIORITY"),
  routine: N_("ROUTINE"),
};
const LAYER_NAMES = {
  leaders: N_("Leaders"),
  nsa: N_("National security advisers"),
  foreign: N_("Foreign ministers"),
  defense: N_("Defense ministers"),
  ops: N_("Operations centres"),
};
const KIND_NAMES = {
  trilateral: N_("Trilateral"),
  bilateral: N_("Bilateral"),
  multilateral: N_("Multilateral"),
  national: N_("National"),
};
const CLASSIFICATION_NAMES = {
  unclassified: N_("Unclassified"),
  confidential: N_("Confidential"),
  secret: N_("Secret"),
  top_secret: N_("Top secret"),
};
const ESCALATION_NAMES = {
  sender: N_("Sender"),
  pending: N_("Awaiting acknowledgment"),
  escalated: N_("Escalated (level {level})"),
  acknowledged: N_("Acknowledged"),
};

export const precedenceName = (p) => t(PRECEDENCE_NAMES[p] || p);
export const layerName = (l) => t(LAYER_NAMES[l] || l);
export const kindName = (k) => t(KIND_NAMES[k] || k);
export const classificationName = (c) => t(CLASSIFICATION_NAMES[c] || c);
export const escalationName = (state, lvl) => t(ESCALATION_NAMES[state] || state, { level: lvl });

// ISO 3166 alpha-3 -> alpha-2, for Intl.DisplayNames (CLDR names in every language, offline).
const ALPHA2 = {
  USA: "US", JPN: "JP", KOR: "KR", AUS: "AU", GBR: "GB", CAN: "CA", FRA: "FR", DEU: "DE",
  ITA: "IT", ESP: "ES", PRT: "PT", NLD: "NL", BEL: "BE", LUX: "LU", DNK: "DK", NOR: "NO",
  ISL: "IS", GRC: "GR", TUR: "TR", CZE: "CZ", HUN: "HU", POL: "PL", BGR: "BG", EST: "EE",
  LVA: "LV", LTU: "LT", ROU: "RO", SVK: "SK", SVN: "SI", ALB: "AL", HRV: "HR", MNE: "ME",
  MKD: "MK", FIN: "FI", SWE: "SE", NZL: "NZ", IND: "IN", PHL: "PH",
};
const displayNames = new Map();

/** The nation's name in the current language ("Japan", "日本", "일본"); the code if unknown. */
export function nationName(code) {
  const alpha2 = ALPHA2[code];
  if (!alpha2) return code;
  const lang = currentLanguage();
  if (!displayNames.has(lang)) displayNames.set(lang, new Intl.DisplayNames([lang], { type: "region" }));
  return displayNames.get(lang).of(alpha2) || code;
}

/** "ops.usa-jpn-kor" -> its members, upper case. */
export function channelMembers(channel) {
  return channel.members || channel.id.split(".")[1].split("-").map((m) => m.toUpperCase());
}

export function channelTitle(channel) {
  return channelMembers(channel).join(" · ");
}
