-- trace_length: trace length in characters by format (mean, median, p90, max): how long does SFT need max_length to be?
-- params: none.
SELECT format, count(*) AS traces,
       round(avg(length(trace)), 1) AS mean_chars,
       median(length(trace)) AS median_chars,
       quantile_cont(length(trace), 0.9) AS p90_chars,
       max(length(trace)) AS max_chars
FROM traces
GROUP BY format
ORDER BY format;
