using System.Text.Json;
using System.Text.Json.Serialization;
using CalRec.MLNet;
using CalRec.MLNet.Tables;
using CalRec.Recommenders;
using Microsoft.ML;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace CalRec.Server;

/// <summary>Limits and defaults of the recommendation endpoints.</summary>
public sealed record RecommendationServerOptions
{
    /// <summary>Items returned when a request gives no <c>k</c>.</summary>
    public int DefaultK { get; init; } = 10;

    /// <summary>Largest <c>k</c> a request may ask for.</summary>
    public int MaxK { get; init; } = 1000;

    /// <summary>Most users in one <c>POST /recommend/batch</c>.</summary>
    public int MaxBatchUsers { get; init; } = 10_000;

    /// <summary>The largest request body accepted, in bytes (larger ones get a 413 problem); default 30 MB, Kestrel's.</summary>
    public long MaxRequestBodyBytes { get; init; } = 30_000_000;
}

/// <summary>
/// The HTTP surface over one fitted recommender (a <see cref="SequentialRecommendationTransformer"/>): <c>GET /health</c>, <c>POST /recommend</c> (one history),
/// <c>GET /recommend?history=a,b&amp;k=10</c>, and <c>POST /recommend/batch</c> (many users, scored in blocks). JSON uses
/// snake_case names; unknown fields are refused. A bad request is answered 400 with an RFC 7807 problem whose
/// <c>detail</c> says what is wrong and whose <c>field</c> names the JSON path (for example <c>history[2]</c>).
/// </summary>
public static partial class RecommendationEndpoints
{
    /// <summary>Serializer settings of requests and responses.</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        // Strict JSON: "k": "5" is a string, not a number (the web defaults would read it), and a key given twice is an error.
        NumberHandling = JsonNumberHandling.Strict,
        AllowDuplicateProperties = false,
    };

    /// <summary>
    /// Maps the endpoints for <paramref name="recommender"/>: single requests go through pooled PredictionEngines
    /// (<see cref="RecommendationEnginePool{TInput, TOutput}"/>, thread-safe), batches through the transformer's lazy
    /// block scoring.
    /// </summary>
    public static IEndpointRouteBuilder MapRecommendations(this IEndpointRouteBuilder app, SequentialRecommendationTransformer recommender, RecommendationServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(recommender);
        options ??= new RecommendationServerOptions();
        var pool = new EnginePools(recommender, options.MaxK);
        RecommenderModel model = recommender.Model;

        var rejections = new RejectionLog(app.ServiceProvider.GetService(typeof(ILoggerFactory)) as ILoggerFactory);
        app.MapMethods("/health", [HttpMethods.Get, HttpMethods.Head], () => Results.Json(new HealthResponse("ok", model.Kind, model.ItemCount, model.Training.Dataset, model.Training.TrainedAtUtc), Json));

        // Query values arrive as text and are parsed here, so a malformed one gets a problem that names it rather than the
        // framework's bare 400.
        app.MapGet("/recommend", (string? history, string? k, [FromQuery(Name = "include_seen")] string? includeSeen) =>
        {
            int? count = null;
            if (!string.IsNullOrEmpty(k))
            {
                if (!int.TryParse(k, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int parsed))
                {
                    return Problem($"k: '{k}' is not a whole number.", "k");
                }

                count = parsed;
            }

            bool seen = false;
            if (!string.IsNullOrEmpty(includeSeen) && !bool.TryParse(includeSeen, out seen))
            {
                return Problem($"include_seen: '{includeSeen}' is not true or false.", "include_seen");
            }

            string[] ids = (history ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            return Recommend(pool, options, ids, count, seen);
        });

        app.MapPost("/recommend", async (HttpContext http) =>
        {
            (RecommendRequest? body, IResult? error) = await ReadAsync<RecommendRequest>(http, rejections);
            return error ?? Recommend(pool, options, body!.History, body.K, body.IncludeSeen ?? false);
        });

        app.MapPost("/recommend/batch", async (HttpContext http) =>
        {
            (BatchRecommendRequest? body, IResult? error) = await ReadAsync<BatchRecommendRequest>(http, rejections);
            return error ?? RecommendBatch(pool, options, body!);
        });

        return app;
    }

    private static IResult Recommend(EnginePools pool, RecommendationServerOptions options, IReadOnlyList<string>? history, int? k, bool includeSeen)
    {
        if (CheckK(k, options) is { } bad)
        {
            return bad;
        }

        if (CheckHistory(pool.Model, history, "history", null) is { } badHistory)
        {
            return badHistory;
        }

        RecommendationRow row = pool.For(includeSeen, k ?? options.DefaultK).Predict(new HistoryRow { History = [.. history!] });
        return Results.Json(new RecommendResponse(ToResults(pool.Model, row, k ?? options.DefaultK)), Json);
    }

    private static IResult RecommendBatch(EnginePools pool, RecommendationServerOptions options, BatchRecommendRequest body)
    {
        RecommenderModel model = pool.Model;
        if (CheckK(body.K, options) is { } bad)
        {
            return bad;
        }

        if (body.Users is not { Count: > 0 } users)
        {
            return Problem("users: give at least one user.", "users");
        }

        if (users.Count > options.MaxBatchUsers)
        {
            return Problem($"users: {users.Count:N0} users in one request; at most {options.MaxBatchUsers:N0}.", "users");
        }

        for (int u = 0; u < users.Count; u++)
        {
            if (users[u] is null)
            {
                return Problem($"users[{u}] is null.", $"users[{u}]");
            }

            if (CheckHistory(model, users[u].History, $"users[{u}].history", users[u].User) is { } badHistory)
            {
                return badHistory;
            }
        }

        int k = body.K ?? options.DefaultK;
        SequentialRecommendationTransformer scorer = pool.Recommender.WithColumns(RecommendationColumns.Default with { TopK = k, ExcludeSeen = !(body.IncludeSeen ?? false) });
        IDataView table = pool.MLContext.Data.LoadFromEnumerable(users.Select(u => new HistoryRow { UserId = u.User ?? "", History = [.. u.History!] }));
        var results = new List<UserResult>(users.Count);
        foreach (RecommendationRow r in pool.MLContext.Data.CreateEnumerable<RecommendationRow>(scorer.Transform(table), reuseRowObject: false))
        {
            results.Add(new UserResult(users[results.Count].User, ToResults(model, r, k)));
        }

        return Results.Json(new BatchRecommendResponse(results), Json);
    }

    private static IResult? CheckK(int? k, RecommendationServerOptions options) => k switch
    {
        null => null,
        <= 0 => Problem($"k: {k} is not a positive number of items.", "k"),
        _ when k > options.MaxK => Problem($"k: {k} is more than this server's limit of {options.MaxK}.", "k"),
        _ => null,
    };

    // A missing or empty history, or an id outside the catalogue, named by its JSON path.
    private static IResult? CheckHistory(RecommenderModel model, IReadOnlyList<string>? history, string field, string? user)
    {
        string who = user is null ? field : $"{field} (user '{user}')";
        if (history is not { Count: > 0 })
        {
            return Problem($"{who}: give at least one item id.", field);
        }

        for (int i = 0; i < history.Count; i++)
        {
            if (history[i] is null)
            {
                return Problem($"{who}: position {i + 1} is null; give item ids as strings.", $"{field}[{i}]");
            }

            if (model.IndexOf(history[i]) is null)
            {
                return Problem($"{who}: item '{history[i]}' (position {i + 1}) is not in the model's catalogue of {model.ItemCount:N0} items.", $"{field}[{i}]");
            }
        }

        return null;
    }

    private static async Task<(T? Body, IResult? Error)> ReadAsync<T>(HttpContext http, RejectionLog rejections)
        where T : class
    {
        if (!http.Request.HasJsonContentType())
        {
            rejections.Report(http, StatusCodes.Status415UnsupportedMediaType, $"content type '{http.Request.ContentType}'");
            return (null, Results.Problem(detail: "Send the request body as JSON (Content-Type: application/json).", statusCode: StatusCodes.Status415UnsupportedMediaType));
        }

        try
        {
            T? body = await JsonSerializer.DeserializeAsync<T>(http.Request.Body, Json, http.RequestAborted);
            return body is null ? (null, Problem("The request body is JSON null; send an object.", "$")) : (body, null);
        }
        catch (JsonException ex)
        {
            string where = ex.LineNumber is long line ? $" (line {line + 1}, byte {ex.BytePositionInLine + 1})" : "";
            rejections.Report(http, StatusCodes.Status400BadRequest, "malformed JSON");
            return (null, Problem($"The request body is not a valid {typeof(T).Name}{where}: {FirstSentence(ex.Message)}", ex.Path ?? "$"));
        }
        catch (BadHttpRequestException ex)
        {
            // Kestrel's own limits while the body is read: too large (413), too slow (408), malformed chunks (400). One
            // rate-limited line in the log instead of the exception's stack trace per request.
            rejections.Report(http, ex.StatusCode, ex.Message);
            string detail = ex.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => $"The request body is larger than this server accepts ({http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize:N0} bytes).",
                StatusCodes.Status408RequestTimeout => "The request body arrived too slowly.",
                _ => FirstSentence(ex.Message),
            };
            return (null, Results.Problem(detail: detail, statusCode: ex.StatusCode));
        }
    }

    // System.Text.Json appends "Path: ... | LineNumber: ..." to its messages (the problem reports those separately) and
    // names .NET types ("System.Nullable`1[System.Int32]"): those become what a client sends instead.
    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        message = cut > 0 ? message[..cut] : message;
        return JsonTypeName().Replace(message, m => m.Groups["type"].Value.Replace("System.Nullable`1[", "", StringComparison.Ordinal).TrimEnd(']') switch
        {
            "System.Int32" or "System.Int64" => "a whole number",
            "System.Boolean" => "true or false",
            "System.String" => "a string",
            var t when t.Contains("[System.String", StringComparison.Ordinal) => "an array of strings",
            var t when t.Contains("UserRequest", StringComparison.Ordinal) => "an array of users",
            _ => "the expected JSON type",
        });
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"(?<type>System\.Nullable`1\[[^\]]+\]|System\.Collections\.Generic\.[\w`]+\[[^\]]*\]+|System\.\w+|CalRec\.[\w.]+)")]
    private static partial System.Text.RegularExpressions.Regex JsonTypeName();

    private static IResult Problem(string detail, string field) =>
        Results.Problem(detail: detail, statusCode: StatusCodes.Status400BadRequest, title: "Bad request",
            extensions: new Dictionary<string, object?> { ["field"] = field });

    private static ItemResult[] ToResults(RecommenderModel model, RecommendationRow row, int k) =>
        row.PredictedItemIds.Take(k).Select((id, i) => new ItemResult(id, model.Catalog[model.IndexOf(id)!.Value].Title, row.Scores[i])).ToArray();

    /// <summary>
    /// PredictionEngine pools over the recommender, one per list length and seen-item rule, made on first use. A request's
    /// k is rounded up to the next of 10, 20, 50, 100, 200, 500, ... (at most the server's MaxK) and the list cut to k,
    /// so a request for 10 items does not pay for selecting MaxK of them and the pools stay few.
    /// </summary>
    private sealed class EnginePools(SequentialRecommendationTransformer recommender, int maxK)
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<(int K, bool IncludeSeen), RecommendationEnginePool<HistoryRow, RecommendationRow>> _pools = new();

        private static MLContext Context { get; } = new();

        public MLContext MLContext => Context;

        public SequentialRecommendationTransformer Recommender => recommender;

        public RecommenderModel Model => recommender.Model;

        public RecommendationEnginePool<HistoryRow, RecommendationRow> For(bool includeSeen, int k) =>
            _pools.GetOrAdd((Bucket(k), includeSeen), key =>
                new RecommendationEnginePool<HistoryRow, RecommendationRow>(Context, recommender.WithColumns(RecommendationColumns.Default with { TopK = key.K, ExcludeSeen = !key.IncludeSeen })));

        private int Bucket(int k)
        {
            for (int bucket = 10; ; bucket *= 10)
            {
                foreach (int b in (ReadOnlySpan<int>)[bucket, 2 * bucket, 5 * bucket])
                {
                    if (b >= k)
                    {
                        return Math.Min(b, maxK);
                    }
                }
            }
        }
    }
}
