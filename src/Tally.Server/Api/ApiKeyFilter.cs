using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tally.Core.Configuration;

namespace Tally.Server.Api;

/// <summary>Requires "Authorization: Bearer KEY" with a key of at least the given role.</summary>
public sealed class ApiKeyFilter(TallySchema schema, ApiRole required) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (BearerKey(context.HttpContext.Request) is not { } key)
        {
            context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "API key required",
                detail: "Send the key as 'Authorization: Bearer KEY'.");
        }
        if (!schema.ApiKeys.TryGetValue(key, out var role))
        {
            context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unknown API key");
        }
        if (role < required)
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Admin key required",
                detail: "This key may write events but not run admin tasks.");
        return await next(context);
    }

    /// <summary>The key sent as "Authorization: Bearer KEY", or null.</summary>
    public static string? BearerKey(HttpRequest request)
    {
        const string scheme = "Bearer ";
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? header[scheme.Length..].Trim() : null;
    }
}

public static class ApiKeyFilters
{
    /// <summary>The endpoint answers only requests with a key of at least <paramref name="role"/>.</summary>
    public static RouteHandlerBuilder RequireKey(this RouteHandlerBuilder endpoint, ApiRole role) =>
        endpoint.AddEndpointFilterFactory((built, next) =>
        {
            var filter = new ApiKeyFilter(built.ApplicationServices.GetRequiredService<TallySchema>(), role);
            return invocation => filter.InvokeAsync(invocation, next);
        });
}
