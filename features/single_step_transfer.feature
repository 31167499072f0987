Feature: Single-step (blind) transfer
  The agent sends the call on to a colleague without talking to them first: the agent
  leaves at once and the call rings the colleague.

  Background:
    Given these agents are logged in through the app:
      | agent | mode         | dial number  |
      | 1001  | CALL_BY_CALL | +15551230001 |
      | 1002  | CALL_BY_CALL | +15551230002 |

  Scenario: Blind transfer to a colleague who answers on the phone
    Given agent 1001 is talking to a customer who called with callVariable1 ACC-42
    When agent 1001 blind-transfers the call to agent 1002
    Then agent 1001 is WORK_READY in the app and in Finesse
    And agent 1001's phone hangs up
    And agent 1002's app shows an incoming call with callVariable1 ACC-42
    And agent 1002's phone rings
    When agent 1002 answers on the phone
    Then agent 1002 is talking to the customer in the app and in Finesse
    And agent 1002's call is a TRANSFER call in the app and in Finesse
    And agent 1002 is TALKING in the app and in Finesse

  Scenario: A colleague already on a call cannot take a blind transfer
    Given these agents are logged in through the app:
      | agent | mode         | dial number  |
      | 1003  | CALL_BY_CALL | +15551230003 |
    And agent 1002 is talking to a customer
    And agent 1001 is talking to a customer
    When agent 1001 tries to blind-transfer the call to agent 1002
    Then it is refused with 400 Invalid Destination
    And agent 1001 is talking to the customer in the app and in Finesse
    And agent 1002 is TALKING in the app and in Finesse

  Scenario: The customer hangs up while the transferred call rings the colleague
    Given agent 1001 is talking to a customer
    When agent 1001 blind-transfers the call to agent 1002
    Then agent 1002's app shows an incoming call
    When the customer hangs up
    Then agent 1002 has no call in the app and in Finesse
    And agent 1002's phone hangs up
    And agent 1002 is NOT_READY in the app and in Finesse
