-- accuracy_by_variant: rollout accuracy per prompt variant and sample index (does the prompt variant matter?).
-- params: none.
SELECT variant, sample_idx, count(*) AS rollouts,
       sum(is_correct::INT) AS correct,
       round(avg(is_correct::INT), 4) AS accuracy,
       round(avg(completion_tokens), 1) AS mean_tokens
FROM graded
GROUP BY variant, sample_idx
ORDER BY variant, sample_idx;
