using Uncoded.Client.Cli;

return await ClientCli.RunAsync(args).ConfigureAwait(false);
