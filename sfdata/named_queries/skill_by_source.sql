-- skill_by_source: skill use and verdict quality (precision / recall / F1 per class, each verdict against the grade of the sample it follows) by source (trace / rollout / eval) and, for eval, per experiment arm, model and stage (base vs sft vs rl, never averaged across arms); n = texts, n_questions = distinct eval questions.
-- params: none.
-- the skill columns are sfdata/skill_metrics.py definitions rendered by select_sql (a test keeps them equal)
SELECT s.source,
       coalesce(e.arm, '') AS arm,
       coalesce(e.model, '') AS model,
       coalesce(e.stage, '') AS stage,
       count(*) AS n,
       count(DISTINCT e.question_id) AS n_questions,
       round(avg(s.n_samples), 3) AS samples_per_answer,
       round(avg((s.n_samples > 0)::INT), 3) AS sample_tag_rate,
       round(avg((s.n_verdicts > 0)::INT), 3) AS tagged_verdict_rate,
       round(avg((s.cue_wait + s.cue_verify + s.cue_alternatively + s.cue_check > 0)::INT), 3) AS keyword_cue_rate,
       round(avg((s.n_retries > 0)::INT), 3) AS retry_rate,
       round(sum(s.n_verdict_tp + s.n_verdict_tn) / nullif(sum(s.n_verdict_tp + s.n_verdict_fp + s.n_verdict_tn + s.n_verdict_fn), 0), 3) AS verdict_accuracy,
       round(sum(s.n_verdict_tp) / nullif(sum(s.n_verdict_tp + s.n_verdict_fp), 0), 3) AS verdict_precision_correct,
       round(sum(s.n_verdict_tp) / nullif(sum(s.n_verdict_tp + s.n_verdict_fn), 0), 3) AS verdict_recall_correct,
       round(sum(2 * s.n_verdict_tp) / nullif(sum(2 * s.n_verdict_tp + s.n_verdict_fp + s.n_verdict_fn), 0), 3) AS verdict_f1_correct,
       round(sum(s.n_verdict_tn) / nullif(sum(s.n_verdict_tn + s.n_verdict_fn), 0), 3) AS verdict_precision_incorrect,
       round(sum(s.n_verdict_tn) / nullif(sum(s.n_verdict_tn + s.n_verdict_fp), 0), 3) AS verdict_recall_incorrect,
       round(sum(2 * s.n_verdict_tn) / nullif(sum(2 * s.n_verdict_tn + s.n_verdict_fn + s.n_verdict_fp), 0), 3) AS verdict_f1_incorrect
FROM skills s LEFT JOIN eval e ON s.source = 'eval' AND e.eval_id = s.id
GROUP BY ALL
ORDER BY s.source, arm, stage, model;
