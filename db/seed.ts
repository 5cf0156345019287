import { count } from "drizzle-orm";
import type { Database } from "./client.server";
import { participants } from "./schema";
import { DEMO_ACCOUNTS, DEMO_PASSWORD } from "../app/modules/demo";
import { createConsoleUser, registerParticipant } from "../test/factories";

/**
 * The demo: HKEX staff, two fictional participants with a maker and a checker each, and one more participant
 * to show that administrators see only their own. Seeds only an empty database; answers whether it did.
 */
export async function seedDemo(db: Database): Promise<boolean> {
  const [row] = await db.select({ n: count() }).from(participants);
  if (Number(row?.n ?? 0) > 0) return false;

  await registerParticipant(db, {
    id: "B01234",
    nameEn: "Harbour View Securities Clearing Limited",
    nameZh: "港景證券結算有限公司",
    type: "GCP",
    bic: "HVSCHKHH",
  });
  await registerParticipant(db, {
    id: "C00123",
    nameEn: "Lion Rock Custodian Services Limited",
    nameZh: "獅子山託管服務有限公司",
    type: "CUSTODIAN",
  });
  await registerParticipant(db, {
    id: "A00003",
    nameEn: "Victoria Peak Direct Clearing Limited",
    nameZh: "太平山直接結算有限公司",
    type: "DCP",
  });
  for (const account of DEMO_ACCOUNTS) {
    await createConsoleUser(db, {
      email: account.email,
      displayName: account.displayName,
      participantId: account.participantId,
      password: DEMO_PASSWORD,
      roleCodes: [account.roleCode],
      isDemo: true,
    });
  }
  return true;
}
