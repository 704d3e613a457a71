-- grade_reasons: why rollouts fail (no_answer, wrong_value, reused_number, ...), per variant.
-- params: none.
SELECT variant, reason, count(*) AS n,
       round(count(*) / sum(count(*)) OVER (PARTITION BY variant), 4) AS share
FROM graded
GROUP BY variant, reason
ORDER BY variant, n DESC;
