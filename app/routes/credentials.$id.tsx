import { json } from "@remix-run/node";
import { Link, useActionData, useLoaderData } from "@remix-run/react";
import { useState } from "react";
import { intent, intentAction, protectedLoader } from "~/auth/guard.server";
import { InlineReasonForm } from "~/components/decide-form";
import { TextField, IntentForm } from "~/components/field";
import { asFailure, FormMessage, fieldMessage } from "~/components/form-feedback";
import { KeyGenerator } from "~/components/key-generator";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { titled } from "~/lib/meta";
import { CLAIM_RULES, POP_AUDIENCE } from "~/modules/credentials/claim-rules";
import { checkToken, decideClient, describeKey, getClient, issueChallenge, registerKey, revokeKey } from "~/modules/credentials/service.server";
import { validate } from "~/lib/validation";
import { ConfirmPanel } from "~/components/confirm";

export const meta = titled("credentials.title");

export const loader = /* @__PURE__ */ protectedLoader("credential:read", async ({ ctx, params }) => {
  const { client, ownerName, keys, can } = await getClient(ctx, params.id ?? "");
  const now = Date.now();
  return json({
    me: ctx.actor.userId,
    canManage: can.manage,
    canApprove: can.approve,
    audience: CLAIM_RULES[client.environment].audience,
    client: { id: client.id, clientId: client.clientId, name: client.name, participantId: client.participantId, environment: client.environment, status: client.status, ownerName },
    keys: keys.map((k) => ({
      id: k.id,
      kid: k.kid,
      alg: k.alg,
      state: k.status === "revoked" ? "revoked" : k.expiresAt.getTime() <= now ? "expired" : "active",
      expiresAt: k.expiresAt.toISOString(),
      revokeReason: k.revokeReason,
    })),
  });
});

const answer = (intent: string, extra: { nonce?: string; expiresAt?: string; check?: { ok: boolean; findings: Awaited<ReturnType<typeof checkToken>>["findings"] } } = {}) => ({
  ok: true as const,
  intent,
  nonce: extra.nonce ?? null,
  expiresAt: extra.expiresAt ?? null,
  check: extra.check ?? null,
});

export const action = /* @__PURE__ */ intentAction({
  challenge: /* @__PURE__ */ intent(issueChallenge, async ({ ctx, params }) => {
    const challenge = await issueChallenge(ctx, { clientId: params.id ?? "" });
    return json(answer("challenge", { nonce: challenge.nonce, expiresAt: challenge.expiresAt.toISOString() }));
  }),
  register: /* @__PURE__ */ intent(registerKey, async ({ ctx, params, form }) => {
    await registerKey(ctx, {
      clientId: params.id ?? "",
      publicKey: form.value("publicKey") ?? "",
      proof: form.value("proof") ?? "",
      nonce: form.value("nonce") ?? "",
      expiresOn: form.value("expiresOn") ?? "",
      rsaAlgorithm: form.value("rsaAlgorithm"),
      replacesKeyId: form.value("replacesKeyId"),
      overlapUntil: form.value("overlapUntil") || undefined,
    });
    return json(answer("register"));
  }),
  revoke: /* @__PURE__ */ intent(
    revokeKey,
    async ({ ctx, form }) => {
      await revokeKey(ctx, { keyId: form.value("keyId") ?? "", reason: form.value("reason") ?? "" });
      return json(answer("revoke"));
    },
    {
      async confirm({ ctx, form }) {
        const input = validate(revokeKey.spec.input, { keyId: form.value("keyId") ?? "", reason: form.value("reason") ?? "" });
        const key = await describeKey(ctx, input.keyId);
        return { titleKey: "confirm.key.revoke.title", messageKey: "confirm.key.revoke.message", confirmKey: "confirm.key.revoke.button", params: { kid: key.kid, clientId: key.clientId } };
      },
    },
  ),
  decide: /* @__PURE__ */ intent(decideClient, async ({ ctx, params, form }) => {
    await decideClient(ctx, { clientId: params.id ?? "", decision: form.value("decision") ?? "" });
    return json(answer("decide"));
  }),
  // Reading, not a change: anyone who may read the client may check a token against it.
  check: /* @__PURE__ */ intent("credential:read", async ({ ctx, params, form }) => {
    const result = await checkToken(ctx, params.id ?? "", form.value("token") ?? "");
    return json(answer("check", { check: { ok: result.ok, findings: result.findings } }));
  }),
});

function inMonths(months: number): string {
  const d = new Date();
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.toISOString().slice(0, 10);
}

export default function ApiClientPage() {
  const { t, time } = useI18n();
  const data = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const failure = asFailure(actionData);
  const c = data.client;
  const challenge = actionData && "nonce" in actionData && actionData.nonce ? { nonce: actionData.nonce, expiresAt: actionData.expiresAt! } : null;
  const check = actionData && "check" in actionData ? actionData.check : null;
  const [publicKey, setPublicKey] = useState("");
  const [proof, setProof] = useState("");
  const activeKeys = data.keys.filter((k) => k.state === "active");
  const err = (name: string) => fieldMessage(failure, name, t);
  return (
    <>
      <p>
        <Link to="/credentials">{t("credentials.title")}</Link>
      </p>
      <section className="panel" aria-labelledby="client-title">
        <h1 id="client-title">
          {c.name} <span className="badge">{t(`credentials.status.${c.status}` as MessageKey)}</span>
        </h1>
        <dl className="facts">
          <dt>{t("credentials.clientId")}</dt>
          <dd>
            <code>{c.clientId}</code>
          </dd>
          <dt>{t("users.participant")}</dt>
          <dd>{c.participantId}</dd>
          <dt>{t("credentials.environment")}</dt>
          <dd>{t(`credentials.env.${c.environment}` as MessageKey)}</dd>
          <dt>{t("credentials.owner")}</dt>
          <dd>{c.ownerName}</dd>
        </dl>
        {data.canApprove ? (
          <IntentForm intent="decide" className="inline-form">
            <button type="submit" name="decision" value="approve" className="button primary">
              {t("credentials.approve")}
            </button>
            <button type="submit" name="decision" value="reject" className="button secondary">
              {t("credentials.reject")}
            </button>
          </IntentForm>
        ) : null}
        <FormMessage failure={failure} />
        <ConfirmPanel />
      </section>

      <section className="panel" aria-labelledby="keys-title">
        <h2 id="keys-title">{t("credentials.keys")}</h2>
        {data.keys.length === 0 ? (
          <p>{t("credentials.noKeys")}</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("credentials.kid")}</th>
                  <th scope="col">{t("credentials.alg")}</th>
                  <th scope="col">{t("credentials.expires")}</th>
                  <th scope="col">{t("credentials.status")}</th>
                  {data.canManage ? <th scope="col">{t("credentials.revoke")}</th> : null}
                </tr>
              </thead>
              <tbody>
                {data.keys.map((k) => (
                  <tr key={k.id}>
                    <td>
                      <code className="wrap">{k.kid}</code>
                    </td>
                    <td>{k.alg}</td>
                    <td>
                      {time(k.expiresAt)}
                      {k.state === "active" && new Date(k.expiresAt).getTime() - Date.now() <= 30 * 24 * 3600 * 1000 ? <span className="badge warning-badge"> {t("cert.expiresSoon")}</span> : null}
                    </td>
                    <td>
                      {t(`credentials.keyState.${k.state}` as MessageKey)}
                      {k.revokeReason ? <p className="small">{k.revokeReason}</p> : null}
                    </td>
                    {data.canManage ? (
                      <td>
                        {k.state === "active" ? (
                          <InlineReasonForm
                            id={k.id}
                            hidden={{ intent: "revoke", keyId: k.id }}
                            inputName="reason"
                            label={t("credentials.reason")}
                            buttons={[{ label: t("credentials.revoke") }]}
                          />
                        ) : null}
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
            {data.canManage ? <p className="hint">{t("credentials.revokeHint")}</p> : null}
          </div>
        )}
      </section>

      {data.canManage && c.status === "active" ? (
        <section className="panel" aria-labelledby="register-title">
          <h2 id="register-title">{t("credentials.register")}</h2>
          <p>{t("credentials.registerIntro")}</p>
          <IntentForm intent="challenge">
            <button type="submit" className="button secondary">
              {t("credentials.getChallenge")}
            </button>
          </IntentForm>
          {challenge ? (
            <>
              <p>
                {t("credentials.challenge", { time: time(challenge.expiresAt) })}: <code className="wrap">{challenge.nonce}</code>
              </p>
              <p>{t("credentials.proofClaims")}</p>
              <pre className="code">{JSON.stringify({ nonce: challenge.nonce, aud: POP_AUDIENCE, sub: c.clientId, iat: "now", exp: "now + 10 minutes" }, null, 2)}</pre>
              <KeyGenerator
                clientId={c.clientId}
                nonce={challenge.nonce}
                onGenerated={(jwk, pop) => {
                  setPublicKey(jwk);
                  setProof(pop);
                }}
              />
            </>
          ) : null}
          <IntentForm intent="register" className="stacked-form">
            <input type="hidden" name="nonce" value={challenge?.nonce ?? ""} />
            <div className="field wide">
              <label htmlFor="key-public">{t("credentials.publicKey")}</label>
              <textarea id="key-public" name="publicKey" rows={5} value={publicKey} onChange={(e) => setPublicKey(e.target.value)} aria-describedby={err("publicKey") ? "key-public-error" : undefined} />
              {err("publicKey") ? (
                <p className="field-error" id="key-public-error">
                  {err("publicKey")}
                </p>
              ) : null}
            </div>
            <div className="field wide">
              <label htmlFor="key-proof">{t("credentials.proof")}</label>
              <textarea id="key-proof" name="proof" rows={4} value={proof} onChange={(e) => setProof(e.target.value)} aria-describedby={err("proof") ? "key-proof-error" : undefined} />
              {err("proof") ? (
                <p className="field-error" id="key-proof-error">
                  {err("proof")}
                </p>
              ) : null}
            </div>
            <TextField name="expiresOn" type="date" label={t("credentials.expiresOn")} required defaultValue={inMonths(12)} error={err("expiresOn")} />
            <div className="field">
              <label htmlFor="key-rsa-alg">{t("credentials.rsaAlgorithm")}</label>
              <select id="key-rsa-alg" name="rsaAlgorithm" defaultValue="RS256">
                <option value="RS256">RS256</option>
                <option value="PS256">PS256</option>
              </select>
            </div>
            {activeKeys.length > 0 ? (
              <>
                <div className="field">
                  <label htmlFor="key-replaces">{t("credentials.rotate")}</label>
                  <select id="key-replaces" name="replacesKeyId" defaultValue="">
                    <option value="">{t("credentials.rotateNone")}</option>
                    {activeKeys.map((k) => (
                      <option key={k.id} value={k.id}>
                        {k.kid.slice(0, 16)}… ({time(k.expiresAt)})
                      </option>
                    ))}
                  </select>
                  {err("replacesKeyId") ? <p className="field-error">{err("replacesKeyId")}</p> : null}
                </div>
                <TextField name="overlapUntil" type="date" label={t("credentials.overlapUntil")} error={err("overlapUntil")} />
              </>
            ) : null}
            <button type="submit" className="button primary" disabled={!challenge}>
              {t("credentials.register")}
            </button>
          </IntentForm>
        </section>
      ) : null}

      <section className="panel" aria-labelledby="check-title">
        <h2 id="check-title">{t("credentials.check")}</h2>
        <p>{t("credentials.checkIntro", { environment: t(`credentials.env.${c.environment}` as MessageKey) })}</p>
        <p className="muted small">
          iss = sub = <code>{c.clientId}</code> · aud = <code>{data.audience}</code>
        </p>
        <IntentForm intent="check" className="stacked-form">
          <div className="field wide">
            <label htmlFor="check-token">{t("credentials.token")}</label>
            <textarea id="check-token" name="token" rows={4} />
          </div>
          <button type="submit" className="button primary">
            {t("credentials.checkSubmit")}
          </button>
        </IntentForm>
        {check ? (
          <div role="status" aria-live="polite">
            <p className={check.ok ? "notice" : "form-error"}>{check.ok ? t("credentials.checkOk") : t("credentials.checkBad")}</p>
            <ul className="checks">
              {check.findings.map((finding, i) => (
                <li key={`${finding.check}-${i}`} className={finding.ok ? "check-pass" : "check-fail"}>
                  <strong>{finding.check}</strong> — {t(finding.messageKey, finding.params)}
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </section>
    </>
  );
}
