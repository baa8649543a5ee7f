namespace CalRec.Server;

/// <summary>Body of <c>POST /recommend</c> (JSON, snake_case names).</summary>
public sealed class RecommendRequest
{
    /// <summary>Item ids the user interacted with, oldest first (<c>history</c>).</summary>
    public IReadOnlyList<string>? History { get; init; }

    /// <summary>How many items to return (<c>k</c>); the server's default when absent.</summary>
    public int? K { get; init; }

    /// <summary>Allow items from the history in the result (<c>include_seen</c>); false when absent.</summary>
    public bool? IncludeSeen { get; init; }
}

/// <summary>One user of a <see cref="BatchRecommendRequest"/>.</summary>
public sealed class BatchUser
{
    /// <summary>The caller's user id, echoed in the result (<c>user</c>).</summary>
    public string? User { get; init; }

    /// <summary>Item ids, oldest first (<c>history</c>).</summary>
    public IReadOnlyList<string>? History { get; init; }
}

/// <summary>Body of <c>POST /recommend/batch</c>: many users scored together (one matrix product per block of users).</summary>
public sealed class BatchRecommendRequest
{
    /// <summary>The users (<c>users</c>).</summary>
    public IReadOnlyList<BatchUser>? Users { get; init; }

    /// <summary>Items per user (<c>k</c>); the server's default when absent.</summary>
    public int? K { get; init; }

    /// <summary>Allow items from each history in its result (<c>include_seen</c>); false when absent.</summary>
    public bool? IncludeSeen { get; init; }
}

/// <summary>A recommended item in a response.</summary>
/// <param name="Id">Item id.</param>
/// <param name="Title">Item title.</param>
/// <param name="Score">The model's score (higher is better; comparable only within one response).</param>
public sealed record ItemResult(string Id, string Title, float Score);

/// <summary>Response of <c>POST /recommend</c> and <c>GET /recommend</c>.</summary>
/// <param name="Items">Best first.</param>
public sealed record RecommendResponse(IReadOnlyList<ItemResult> Items);

/// <summary>One user's result in a <see cref="BatchRecommendResponse"/>.</summary>
/// <param name="User">The user id from the request.</param>
/// <param name="Items">Best first.</param>
public sealed record UserResult(string? User, IReadOnlyList<ItemResult> Items);

/// <summary>Response of <c>POST /recommend/batch</c>, users in request order.</summary>
/// <param name="Results">One entry per requested user.</param>
public sealed record BatchRecommendResponse(IReadOnlyList<UserResult> Results);

/// <summary>Response of <c>GET /health</c>: the served model.</summary>
/// <param name="Status"><c>ok</c>.</param>
/// <param name="Kind">Model kind (<c>sasrec</c>, <c>calrec</c>, ...).</param>
/// <param name="Items">Catalogue size.</param>
/// <param name="Dataset">Training dataset name.</param>
/// <param name="TrainedAtUtc">When training finished.</param>
public sealed record HealthResponse(string Status, string Kind, int Items, string Dataset, DateTimeOffset TrainedAtUtc);
