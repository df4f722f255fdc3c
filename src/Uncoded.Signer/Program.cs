using Uncoded.Signer.Cli;

return await SignerCli.RunAsync(args).ConfigureAwait(false);
