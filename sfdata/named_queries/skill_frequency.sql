-- skill_frequency: how often each cognitive skill appears in traces, per format (share of traces with it, mean count).
-- params: none. Needs: sf skills RUN (skills table) and traces.
SELECT t.format,
       count(*)                                   AS traces,
       round(avg(s.n_samples), 2)                 AS mean_samples,
       round(avg((s.n_reflections > 0)::INT), 3)  AS with_reflection,
       round(avg((s.n_retries > 0)::INT), 3)      AS with_retry,
       round(avg((s.n_backtracks > 0)::INT), 3)   AS with_backtrack,
       round(avg((s.n_confirms > 0)::INT), 3)     AS with_confirm,
       round(avg((s.cue_wait + s.cue_verify + s.cue_alternatively + s.cue_check > 0)::INT), 3) AS with_cue,
       round(avg(s.malformed::INT), 3)            AS malformed
FROM traces t JOIN skills s ON s.id = t.trace_id AND s.source = 'trace'
GROUP BY t.format
ORDER BY t.format;
