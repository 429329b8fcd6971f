-- Nullable, without a default: a catalog-only change (a brief ACCESS EXCLUSIVE).
ALTER TABLE "Answer" ADD COLUMN IF NOT EXISTS "answerScore" double precision;
