import { SignJWT, exportJWK, exportPKCS8 } from "jose";
import { useState } from "react";
import { useI18n } from "~/i18n/use-i18n";
import { POP_AUDIENCE } from "~/modules/credentials/claim-rules";

/**
 * Generates an EC P-256 key pair with WebCrypto, in the browser: the private key is offered for download and never
 * sent; the public JWK and a proof of possession over the challenge fill the registration form.
 */
export function KeyGenerator({ clientId, nonce, onGenerated }: { clientId: string; nonce: string; onGenerated: (publicJwk: string, proof: string) => void }) {
  const { t } = useI18n();
  const [privatePem, setPrivatePem] = useState<string | null>(null);
  async function generate() {
    const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
    const jwk = await exportJWK(pair.publicKey);
    const proof = await new SignJWT({ nonce })
      .setProtectedHeader({ alg: "ES256", typ: "JWT" })
      .setAudience(POP_AUDIENCE)
      .setSubject(clientId)
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(pair.privateKey);
    setPrivatePem(await exportPKCS8(pair.privateKey));
    onGenerated(JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }), proof);
  }
  return (
    <div className="keygen">
      <button type="button" className="button secondary" onClick={() => void generate()}>
        {t("credentials.generate")}
      </button>
      {privatePem ? (
        <p role="status">
          {t("credentials.generated")}{" "}
          <a href={`data:application/x-pem-file;charset=utf-8,${encodeURIComponent(privatePem)}`} download={`${clientId}-private-key.pem`}>
            {t("credentials.downloadPrivate")}
          </a>
        </p>
      ) : null}
    </div>
  );
}
