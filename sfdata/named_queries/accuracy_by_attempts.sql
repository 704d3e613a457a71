-- accuracy_by_attempts: per question, accuracy of the final answer vs how many samples (attempts) the trace has.
-- params: none. Uses traces; for eval outputs see eval_accuracy.
SELECT n_samples AS attempts, count(*) AS traces,
       round(avg(is_correct::INT), 4) AS accuracy,
       round(avg(n_retries), 3) AS mean_retries
FROM traces
GROUP BY n_samples
ORDER BY n_samples;
