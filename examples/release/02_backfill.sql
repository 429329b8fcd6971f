-- Backfill from the existing score; on a big table run it in batches by id instead.
UPDATE "Answer" SET "answerScore" = score::double precision / 10
WHERE "answerScore" IS NULL AND score IS NOT NULL;
