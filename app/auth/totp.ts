/** TOTP parameters shared by the server and the enrolment page (RFC 6238 defaults every authenticator supports). */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
