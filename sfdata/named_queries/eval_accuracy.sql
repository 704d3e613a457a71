-- eval_accuracy: evaluation accuracy by model stage, task and level (e.g. Countdown with 3/4/5/6 numbers), with budget forcing; prompt_setup says how every stage was asked (variant, demonstrations).
-- params: none.
SELECT prompt_setup, stage, task, level, budget_rounds, count(*) AS outputs,
       round(avg(is_correct::INT), 4) AS accuracy,
       round(avg(completion_tokens), 1) AS mean_tokens
FROM eval
GROUP BY prompt_setup, stage, task, level, budget_rounds
ORDER BY prompt_setup, stage, task, level, budget_rounds;
