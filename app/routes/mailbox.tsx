import { json } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { publicLoader } from "~/auth/guard.server";
import { useI18n } from "~/i18n/use-i18n";
import { titled } from "~/lib/meta";
import { listMailbox } from "~/modules/mail/service.server";

export const meta = titled("mailbox.title");

/**
 * Demo mode only: what the console would have mailed (activation links, expiry notices). Open without signing in,
 * as an invited user has no account yet; outside demo mode it does not exist.
 */
export const loader = /* @__PURE__ */ publicLoader(async ({ context }) => {
  if (!context.config.demoMode) throw json({ messageKey: "error.notFound" }, { status: 404 });
  const mail = await listMailbox(context.db);
  return json({ mail: mail.map((m) => ({ id: m.id, to: m.toAddress, subject: m.subject, body: m.body, createdAt: m.createdAt.toISOString() })) });
});

export default function Mailbox() {
  const { t, time } = useI18n();
  const { mail } = useLoaderData<typeof loader>();
  return (
    <section aria-labelledby="mailbox-title">
      <h1 id="mailbox-title">{t("mailbox.title")}</h1>
      <p>{t("mailbox.intro")}</p>
      {mail.length === 0 ? (
        <p>{t("mailbox.empty")}</p>
      ) : (
        <ol className="entries">
          {mail.map((m) => (
            <li key={m.id}>
              <p className="timeline-head">
                <time dateTime={m.createdAt}>{time(m.createdAt)}</time> · {t("mailbox.to")}: {m.to}
              </p>
              <p>
                <strong>{m.subject}</strong>
              </p>
              <p className="entry-body">
                <Linked text={m.body} />
              </p>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

/** Mail text with its web addresses (activation and reset links) clickable, as a mail program shows them. */
function Linked({ text }: { text: string }) {
  const parts = text.split(/(https?:\/\/[^\s<>"]+)/g);
  return (
    <>
      {parts.map((part, i) =>
        i % 2 === 1 ? (
          <a key={i} href={part}>
            {part}
          </a>
        ) : (
          part
        ),
      )}
    </>
  );
}
