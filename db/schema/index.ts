export * from "./participants";
export * from "./identity";
export * from "./audit";
export * from "./onboarding";
export * from "./access";
export * from "./compliance";
export * from "./credentials";
