-- skill_by_source: skill use by source (trace / rollout / eval) and, for eval, per experiment arm, model and stage (base vs sft vs rl, never averaged across arms); n = texts, n_questions = distinct eval questions.
-- params: none.
SELECT s.source,
       coalesce(e.arm, '') AS arm,
       coalesce(e.model, '') AS model,
       coalesce(e.stage, '') AS stage,
       count(*) AS n,
       count(DISTINCT e.question_id) AS n_questions,
       round(avg(s.n_samples), 3) AS mean_samples,
       round(avg(s.n_verdicts), 3) AS mean_verdicts,
       round(avg((s.n_samples > 0)::INT), 3) AS share_with_sample_tag,
       round(avg((s.n_verdicts > 0)::INT), 3) AS share_verifying,
       round(avg((s.n_retries > 0)::INT), 3) AS share_retrying,
       round(avg((s.cue_wait + s.cue_verify + s.cue_alternatively + s.cue_check > 0)::INT), 3) AS share_with_cue
FROM skills s LEFT JOIN eval e ON s.source = 'eval' AND e.eval_id = s.id
GROUP BY ALL
ORDER BY s.source, arm, stage, model;
