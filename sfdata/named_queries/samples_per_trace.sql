-- samples_per_trace: distribution of the number of samples (attempts) per trace, per format.
-- params: $format (optional; NULL = all formats).
SELECT format, n_samples, count(*) AS traces
FROM traces
WHERE $format IS NULL OR format = $format
GROUP BY format, n_samples
ORDER BY format, n_samples;
