"""一叫就到: contact cards (who to call for a matter) and call-outs to an enterprise's service officer."""
