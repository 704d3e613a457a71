-- skill_frequency: how often each cognitive skill appears in traces, per format (share of traces with it, mean counts, verdict accuracy).
-- params: none. Needs: sf skills RUN (skills table) and traces.
-- the skill columns are sfdata/skill_metrics.py definitions rendered by select_sql (a test keeps them equal)
SELECT t.format,
       count(*) AS traces,
       round(avg(s.n_samples), 3) AS samples_per_answer,
       round(avg((s.n_reflections > 0)::INT), 3) AS reflection_rate,
       round(avg((s.n_verdicts > 0)::INT), 3) AS tagged_verdict_rate,
       round(avg((s.cue_wait + s.cue_verify + s.cue_alternatively + s.cue_check > 0)::INT), 3) AS keyword_cue_rate,
       round(avg((s.n_retries > 0)::INT), 3) AS retry_rate,
       round(avg((s.n_backtracks > 0)::INT), 3) AS backtrack_rate,
       round(avg((s.n_confirms > 0)::INT), 3) AS confirm_rate,
       round(avg(s.malformed::INT), 3) AS malformed_rate,
       round(sum(s.n_verdict_tp + s.n_verdict_tn) / nullif(sum(s.n_verdict_tp + s.n_verdict_fp + s.n_verdict_tn + s.n_verdict_fn), 0), 3) AS verdict_accuracy
FROM traces t JOIN skills s ON s.id = t.trace_id AND s.source = 'trace'
GROUP BY t.format
ORDER BY t.format;
