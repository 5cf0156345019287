import type { Submission } from "~/lib/forms";
import type { ParticipantDetailsInput } from "./schemas";

/**
 * The participant form's fields as service input: repeated contact inputs become rows (blank rows dropped, row
 * numbers kept so that messages land on the right row).
 */
export function participantInputFromForm(form: Submission): ParticipantDetailsInput & { id?: string; version?: string } {
  const one = form.value;
  const names = form.list("contactName");
  const emails = form.list("contactEmail");
  const phones = form.list("contactPhone");
  const titles = form.list("contactTitle");
  const contacts = names.map((name, i) => ({ name, email: emails[i] ?? "", phone: phones[i] ?? "", title: titles[i] ?? "" }));
  // Trailing blank rows are dropped; a blank row between filled ones stays, so its messages land on that row.
  while (contacts.length > 0 && Object.values(contacts[contacts.length - 1]!).every((v) => v.trim() === "")) contacts.pop();
  return {
    id: one("id")?.trim().toUpperCase(),
    version: one("version"),
    nameEn: one("nameEn") ?? "",
    nameZh: one("nameZh") ?? "",
    type: one("type") ?? "",
    bic: one("bic") ?? null,
    services: form.list("services"),
    contacts,
  };
}
