import js from "@eslint/js";
import globals from "globals";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";
import moduleOwnsTables from "./eslint/module-owns-tables.js";

export default tseslint.config(
  { ignores: ["build/**", "public/build/**", "node_modules/**", "data/**", "db/migrations/**", "test-results/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.{ts,tsx,js,mjs}"],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
    },
  },
  {
    files: ["app/**/*.{ts,tsx}"],
    plugins: { "react-hooks": reactHooks },
    rules: {
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "warn",
    },
  },
  {
    // Each table is written by its module only; scope and tenancy are decided in app/modules/tenancy.server.ts.
    files: ["app/**/*.{ts,tsx}"],
    plugins: { local: { rules: { "module-owns-tables": moduleOwnsTables } } },
    rules: {
      "local/module-owns-tables": "error",
      "no-restricted-syntax": [
        "error",
        {
          selector: "ImportSpecifier[imported.name='scopeOf']",
          message: "Ask app/modules/tenancy.server.ts (mayOn, whereTenant, assertTenant, tenantOf): tenancy is decided there.",
        },
        {
          selector: "BinaryExpression[operator=/[!=]==/] > MemberExpression[property.name='persona'] ~ Literal[value='system']",
          message: "The system actor is an actor with capabilities (SYSTEM_PERMISSIONS); decide by permission, not persona.",
        },
      ],
    },
  },
  {
    files: ["app/modules/tenancy.server.ts", "app/auth/**"],
    rules: { "no-restricted-syntax": "off" },
  },
  {
    // Routes are HTTP adapters: they call services and never reach the database themselves (STYLE.md).
    files: ["app/routes/**/*.{ts,tsx}"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["drizzle-orm", "drizzle-orm/*"], message: "Routes call services; services use drizzle." },
            { group: ["**/db/*", "~db/*"], message: "Routes call services; services use the database." },
          ],
        },
      ],
    },
  },
);
