using System.Text.Json;
using System.Text.Json.Serialization;

namespace CalRec.Bench;

/// <summary>One measured benchmark row; serialized as one JSON object per line with <c>--json</c>.</summary>
internal sealed record BenchResult
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("config")]
    public required string Config { get; init; }

    [JsonPropertyName("threads")]
    public int Threads { get; init; }

    [JsonPropertyName("gflops")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Gflops { get; init; }

    [JsonPropertyName("tokens_per_s")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? TokensPerSecond { get; init; }

    [JsonPropertyName("texts_per_s")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? TextsPerSecond { get; init; }

    [JsonPropertyName("users_per_s")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? UsersPerSecond { get; init; }

    [JsonPropertyName("queries_per_s")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? QueriesPerSecond { get; init; }

    [JsonPropertyName("latency_p50_ms")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? LatencyP50Ms { get; init; }

    [JsonPropertyName("latency_p99_ms")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? LatencyP99Ms { get; init; }

    [JsonPropertyName("mb_per_s")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? MegabytesPerSecond { get; init; }

    [JsonPropertyName("managed_bytes_per_step")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? ManagedBytesPerStep { get; init; }

    [JsonPropertyName("peak_working_set_mb")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? PeakWorkingSetMb { get; init; }

    [JsonPropertyName("params")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Parameters { get; init; }

    [JsonPropertyName("seconds")]
    public double Seconds { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this);
}
