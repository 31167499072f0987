Feature: Consult then transfer
  The agent puts the customer on hold, calls a colleague, and once the colleague has
  answered hands the customer over; the call data follows the customer.

  Background:
    Given these agents are logged in through the app:
      | agent | mode              | dial number  |
      | 1001  | CALL_BY_CALL      | +15551230001 |
      | 1002  | CALL_BY_CALL      | +15551230002 |
      | 1003  | NAILED_CONNECTION | +15551230003 |

  @browser
  Scenario: Consult a colleague who answers on the phone, then transfer
    Given agent 1001 is talking to a customer who called with callVariable1 ACC-42
    When agent 1001 consults agent 1002
    Then agent 1001's app shows the call on hold
    And agent 1002's app shows an incoming consult call from agent 1001
    And agent 1002's phone rings
    When agent 1002 answers on the phone
    Then agent 1002 is TALKING in the app and in Finesse
    And agent 1001's app offers TRANSFER on the call
    When agent 1001 transfers the call
    Then agent 1002 is talking to the customer in the app and in Finesse
    And agent 1002's call is a TRANSFER call in the app and in Finesse
    And agent 1002's call carries callVariable1 ACC-42 in the app and in Finesse
    And agent 1001 is WORK_READY in the app and in Finesse
    And agent 1001's app shows the call in wrap-up

  Scenario: Consult a NAILED_CONNECTION colleague, who answers in the app, then transfer
    Given agent 1001 is talking to a customer who called with user.tier gold
    When agent 1001 consults agent 1003
    Then agent 1003's app shows an incoming consult call from agent 1001
    When agent 1003 answers in the app
    Then agent 1003 is TALKING in the app and in Finesse
    When agent 1001 transfers the call
    Then agent 1003 is talking to the customer in the app and in Finesse
    And agent 1003's call carries user.tier gold in the app and in Finesse
    And agent 1001 is WORK_READY in the app and in Finesse

  Scenario: No transfer before the colleague answers
    Given agent 1001 is talking to a customer
    When agent 1001 consults agent 1002
    Then agent 1002's app shows an incoming consult call from agent 1001
    When agent 1001 tries to transfer the call
    Then it is refused with 409 action_not_allowed
    And agent 1001's app shows the call on hold
    And agent 1001 is TALKING in the app and in Finesse

  Scenario: The agent ends the consult call and takes the customer back
    Given agent 1001 is talking to a customer
    When agent 1001 consults agent 1002
    And agent 1002 answers on the phone
    Then agent 1002 is TALKING in the app and in Finesse
    When agent 1001 ends the consult call
    Then agent 1001's consult call is gone from the app
    And agent 1002's phone hangs up
    And agent 1002 has no call in the app and in Finesse
    And agent 1002 is NOT_READY in the app and in Finesse
    When agent 1001 retrieves the call
    Then agent 1001 is talking to the customer in the app and in Finesse
    And agent 1001 is TALKING in the app and in Finesse
