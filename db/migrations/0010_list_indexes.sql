CREATE INDEX "participants_name_en_idx" ON "participants" USING btree ("name_en","id");--> statement-breakpoint
CREATE INDEX "users_display_name_idx" ON "users" USING btree ("display_name","id");