-- verdict_confusion: the reflection verdict confusion matrix against the current grades, with precision/recall/F1 (positive = Correct).
-- params: none. Unparsed verdicts are counted in their own row. Truth is the rollout's grade in `grades` now (a regrade
-- since reflect time counts), falling back to the grade stored with the reflection only where no grade row exists.
WITH m AS (
  SELECT coalesce(r.verdict, 'unparsed') AS verdict, coalesce(g.is_correct, r.rollout_is_correct) AS truth, count(*) AS n
  FROM reflections r LEFT JOIN grades g USING (rollout_id) GROUP BY ALL
), c AS (
  SELECT sum(n) FILTER (WHERE verdict = 'Correct' AND truth) AS tp,
         sum(n) FILTER (WHERE verdict = 'Correct' AND NOT truth) AS fp,
         sum(n) FILTER (WHERE verdict = 'Incorrect' AND truth) AS fn,
         sum(n) FILTER (WHERE verdict = 'Incorrect' AND NOT truth) AS tn,
         sum(n) FILTER (WHERE verdict = 'unparsed') AS unparsed
  FROM m
)
SELECT coalesce(tp, 0) AS tp, coalesce(fp, 0) AS fp, coalesce(fn, 0) AS fn, coalesce(tn, 0) AS tn,
       coalesce(unparsed, 0) AS unparsed,
       round(coalesce(tp, 0) / nullif(coalesce(tp, 0) + coalesce(fp, 0), 0), 4) AS precision,
       round(coalesce(tp, 0) / nullif(coalesce(tp, 0) + coalesce(fn, 0), 0), 4) AS recall,
       round(2 * coalesce(tp, 0) / nullif(2 * coalesce(tp, 0) + coalesce(fp, 0) + coalesce(fn, 0), 0), 4) AS f1
FROM c;
